import { randomUUID, sign } from 'node:crypto';
import type { ActClaim } from '../caller/actor.js';
import type { Caller } from '../caller/caller.js';
import { TokexError } from '../errors.js';
import type { SigningKey } from '../keys/signing-key.js';

export interface MintRequest {
  readonly issuer: string;
  readonly caller: Caller;
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly lifetimeSeconds: number;
  /** Delegation: the actor chain (RFC 8693 §4.1). */
  readonly act?: ActClaim | undefined;
  readonly nowSeconds: number;
}

export interface MintedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: number;
  readonly expiresIn: number;
}

/**
 * An RFC 9068 JWT access token for `audience`, living at most the grant's lifetime and never past
 * the subject token's own `exp`: an exchange cannot extend a caller's session. Times are whole
 * seconds (a fractional subject `exp` is rounded down).
 */
export async function mintAccessToken(key: SigningKey, request: MintRequest): Promise<MintedToken> {
  const { caller } = request;
  const nowSeconds = Math.floor(request.nowSeconds);
  const subjectExp = subjectExpiry(caller);
  if (subjectExp <= nowSeconds) throw new TokexError('expired', 'subject token expires now (inside the clock tolerance)');
  const expiresAt = Math.min(nowSeconds + request.lifetimeSeconds, subjectExp);
  const jti = randomUUID();
  const subject = mintedSubject(caller);
  const entra = caller.issuerKind === 'entra';
  const payload = {
    client_id: caller.appId ?? subject,
    scope: request.scopes.join(' '),
    // Only an Entra issuer's `tid`/`oid` mean a tenant and a directory object; any other issuer's
    // could imitate them.
    ...(entra && caller.tenantId !== undefined && { tid: caller.tenantId }),
    ...(entra && caller.objectId !== undefined && { oid: caller.objectId }),
    ...(request.act === undefined ? {} : { act: request.act }),
    iss: request.issuer,
    sub: subject,
    aud: request.audience,
    iat: nowSeconds,
    exp: expiresAt,
    jti,
  };
  const input = `${headerSegment(key)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const token = `${input}.${signJws(key, input)}`;
  return { token, jti, expiresAt, expiresIn: expiresAt - nowSeconds };
}

/** The subject token's `exp` in whole seconds (validation has made sure it is a finite number). */
export function subjectExpiry(caller: Caller): number {
  return Math.floor(caller.claims.exp as number);
}

/**
 * The minted `sub`: an Entra caller's `oid` (else `sub`); for any other issuer `<issuer name>:<sub>`,
 * so callers of two issuers never get claim-identical tokens (issuer names hold no colon).
 */
export function mintedSubject(caller: Caller): string {
  if (caller.issuerKind === 'entra') return (caller.objectId ?? caller.subject) as string;
  return `${caller.issuerName}:${caller.subject as string}`;
}

/** The protected header is the same for every token a key signs: encoded once per key. */
const headers = new WeakMap<SigningKey, string>();

function headerSegment(key: SigningKey): string {
  let segment = headers.get(key);
  if (segment === undefined) {
    segment = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid })).toString('base64url');
    headers.set(key, segment);
  }
  return segment;
}

/**
 * The JWS signature over `input`, synchronously with the key's KeyObject: ES256 as r||s
 * (IEEE P1363, RFC 7518 §3.4), not the DER node:crypto gives by default; RS256 as PKCS#1 v1.5.
 */
function signJws(key: SigningKey, input: string): string {
  const data = Buffer.from(input, 'latin1');
  const signature = key.alg === 'ES256' ? sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }) : sign('sha256', data, key.privateKey);
  return signature.toString('base64url');
}
