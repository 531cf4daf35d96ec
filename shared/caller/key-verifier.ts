import { constants, KeyObject, verify, type webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
/** WebCrypto's CryptoKey class (a global in Node 20; not on `webcrypto` there). */
const CryptoKeyClass = (globalThis as unknown as { CryptoKey: abstract new () => CryptoKey }).CryptoKey;

/** Checks one signature over `data`; true when it verifies. */
export type Verifier = (data: Buffer, signature: Buffer) => boolean;

/** What jose demands of a CryptoKey for each JWS algorithm (jose's lib/jws_algorithms.js), and how node:crypto checks it. */
interface Algorithm {
  readonly name: string;
  readonly hash?: string;
  readonly namedCurve?: string;
  readonly minRsaBits?: number;
  readonly digest: string | null;
  readonly options: { padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' };
}

const rsa = (bits: number): Algorithm => ({ name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits}`, minRsaBits: 2048, digest: `sha${bits}`, options: {} });
const pss = (bits: number): Algorithm => ({
  name: 'RSA-PSS',
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  digest: `sha${bits}`,
  // RFC 7518 §3.5: the salt is as long as the hash, exactly (WebCrypto's saltLength, as jose sets it).
  options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 },
});
// JWS ECDSA signatures are r||s (IEEE P1363), not DER (RFC 7518 §3.4).
const ecdsa = (namedCurve: string, bits: number): Algorithm => ({ name: 'ECDSA', namedCurve, digest: `sha${bits}`, options: { dsaEncoding: 'ieee-p1363' } });

const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: pss(256),
  PS384: pss(384),
  PS512: pss(512),
  ES256: ecdsa('P-256', 256),
  ES384: ecdsa('P-384', 384),
  ES512: ecdsa('P-521', 512),
  EdDSA: { name: 'Ed25519', digest: null, options: {} },
};

/** Verifiers per CryptoKey and algorithm: a key is checked and converted once, not per token. */
const verifiers = new WeakMap<object, Map<string, Verifier>>();

/**
 * A synchronous node:crypto verifier for a CryptoKey that jose selected and imported for `alg`,
 * after the checks jose makes before it verifies (public key, algorithm name, hash, curve, usage,
 * RSA modulus of at least 2048 bits), which throw a TypeError as jose's do. undefined for any other
 * kind of key or algorithm: the caller then lets jose verify.
 */
export function keyVerifier(key: unknown, alg: string): Verifier | undefined {
  if (!(key instanceof CryptoKeyClass)) return undefined;
  const algorithm = ALGORITHMS[alg];
  if (algorithm === undefined) return undefined;
  let byAlg = verifiers.get(key);
  const known = byAlg?.get(alg);
  if (known) return known;
  checkCryptoKey(key, alg, algorithm);
  const keyObject = KeyObject.from(key);
  const { digest, options } = algorithm;
  const keyOptions = { key: keyObject, ...options };
  const verifier: Verifier = (data, signature) => {
    try {
      return verify(digest, data, keyOptions, signature);
    } catch {
      // As WebCrypto: a signature node:crypto cannot even parse does not verify.
      return false;
    }
  };
  if (!byAlg) {
    byAlg = new Map();
    verifiers.set(key, byAlg);
  }
  byAlg.set(alg, verifier);
  return verifier;
}

function checkCryptoKey(key: CryptoKey, alg: string, expected: Algorithm): void {
  const algorithm = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string; modulusLength?: number };
  if (key.type !== 'public') throw new TypeError(`CryptoKey instances must be of type "public" for the ${alg} algorithm`);
  if (algorithm.name !== expected.name) throw new TypeError(`CryptoKey does not support this operation, its algorithm.name must be ${expected.name}`);
  if (expected.hash && algorithm.hash?.name !== expected.hash)
    throw new TypeError(`CryptoKey does not support this operation, its algorithm.hash must be ${expected.hash}`);
  if (expected.namedCurve && algorithm.namedCurve !== expected.namedCurve)
    throw new TypeError(`CryptoKey does not support this operation, its algorithm.namedCurve must be ${expected.namedCurve}`);
  if (!key.usages.includes('verify')) throw new TypeError('CryptoKey does not support this operation, its usages must include verify.');
  if (expected.minRsaBits && !(typeof algorithm.modulusLength === 'number' && algorithm.modulusLength >= expected.minRsaBits)) {
    throw new TypeError(`${alg} requires key modulusLength to be 2048 bits or larger`);
  }
}
