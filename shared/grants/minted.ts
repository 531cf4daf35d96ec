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
 * the subject token's own `exp`: an exchange cannot extend a caller's session.
 */
export async function mintAccessToken(key: SigningKey, request: MintRequest): Promise<MintedToken> {
  const { caller, nowSeconds } = request;
  const subjectExp = caller.claims.exp as number;
  if (subjectExp <= nowSeconds) throw new TokexError('expired', 'subject token expires now (inside the clock tolerance)');
  const expiresAt = Math.min(nowSeconds + request.lifetimeSeconds, subjectExp);
  const jti = randomUUID();
  const subject = caller.objectId ?? caller.subject;
  const token = await new SignJWT({
    client_id: caller.appId ?? caller.subject ?? subject,
    scope: request.scopes.join(' '),
    ...(caller.tenantId === undefined ? {} : { tid: caller.tenantId }),
    ...(caller.objectId === undefined ? {} : { oid: caller.objectId }),
    ...(request.act === undefined ? {} : { act: request.act }),
  })
    .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid })
    .setIssuer(request.issuer)
    .setSubject(subject as string)
    .setAudience(request.audience)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(key.privateKey);
  return { token, jti, expiresAt, expiresIn: expiresAt - nowSeconds };
}
