import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JSONWebKeySet, type JWK } from 'jose';
import { ConfigError } from '../errors.js';

export type SigningAlgorithm = 'ES256' | 'RS256';

/** A private key tokex signs minted tokens with, and the public JWK it publishes for it. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

/** The key that signs now and those that signed tokens which may still be unexpired. */
export interface SigningKeys {
  readonly current: SigningKey;
  readonly previous: readonly SigningKey[];
}

export function generateSigningKey(alg: SigningAlgorithm = 'ES256'): JWK {
  // The JWK comes out of the generation itself. Exporting the returned KeyObject as a JWK instead can
  // hang the process for good on Node 20: a garbage collection during the export finalizes the
  // generation's job, which takes the key's lock the export holds (seen as a `tokex serve` that never
  // started; a loop of generate-then-export hangs within a thousand keys; Node 22 does not).
  const jwk = { privateKeyEncoding: { format: 'jwk' }, publicKeyEncoding: { format: 'jwk' } } as const;
  const { privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256', ...jwk }) : generateKeyPairSync('rsa', { modulusLength: 2048, ...jwk });
  return privateKey as JWK;
}

/**
 * Reads a private key given as a JWK (JSON) or PEM (PKCS#8, SEC1 or PKCS#1). `where` names the
 * source in errors; the key material itself never appears in one.
 */
export async function signingKeyFrom(material: string, where: string): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    const trimmed = material.trim();
    privateKey = trimmed.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(trimmed) as import('node:crypto').JsonWebKey, format: 'jwk' })
      : createPrivateKey({ key: trimmed, format: 'pem' });
  } catch {
    throw new ConfigError(`${where}: not a private key (expected a private JWK or a PEM private key)`);
  }
  const alg = algorithmFor(privateKey, where);
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  return { kid, alg, privateKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } };
}

function algorithmFor(key: KeyObject, where: string): SigningAlgorithm {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  throw new ConfigError(`${where}: the key must be EC P-256 (ES256) or RSA of at least 2048 bits (RS256)`);
}

const jwksBuilt = new WeakMap<SigningKeys, { current: SigningKey; previous: readonly SigningKey[]; jwks: JSONWebKeySet }>();

/** The JWKS of `/.well-known/jwks.json`: public parts only, current key first. Built again only when the keys change. */
export function publicJwks(keys: SigningKeys): JSONWebKeySet {
  const { current, previous } = keys;
  const known = jwksBuilt.get(keys);
  if (known?.current === current && known.previous === previous) return known.jwks;
  const jwks = { keys: [current, ...previous].map((k) => k.publicJwk) };
  jwksBuilt.set(keys, { current, previous, jwks });
  return jwks;
}
