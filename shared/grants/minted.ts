import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
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
  const token = await new SignJWT({
    client_id: caller.appId ?? subject,
    scope: request.scopes.join(' '),
    // Only an Entra issuer's `tid`/`oid` mean a tenant and a directory object; any other issuer's
    // could imitate them.
    ...(entra && caller.tenantId !== undefined && { tid: caller.tenantId }),
    ...(entra && caller.objectId !== undefined && { oid: caller.objectId }),
    ...(request.act === undefined ? {} : { act: request.act }),
  })
    .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid })
    .setIssuer(request.issuer)
    .setSubject(subject)
    .setAudience(request.audience)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(key.privateKey);
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
