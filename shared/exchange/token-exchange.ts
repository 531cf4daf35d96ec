import { type AuditTrail, audited } from '../audit/trail.js';
import { type Delegation, validateActor } from '../caller/actor.js';
import { TokexError } from '../errors.js';
import { mintAccessToken } from '../grants/minted.js';
import { type HttpResult, NO_STORE } from '../http-result.js';
import { decideToken, issuerKindOf } from '../policy/decide.js';
import type { Tokex } from '../tokex.js';
import { parseTokenRequest } from './request.js';

export const MAX_BODY_BYTES = 64 * 1024;

export interface TokenEndpointRequest {
  readonly contentType: string | null;
  /** The body as received; a body over MAX_BODY_BYTES may be cut short by the host. */
  readonly body: Uint8Array;
  readonly clientIp: string | undefined;
  readonly correlationId: string;
}

/**
 * POST /token: RFC 8693 token exchange. Reads like the RFC: check the request, validate the subject
 * token, find what the policy grants this caller for this target, issue exactly that. Whatever
 * happens, one audit record is written before the answer goes out.
 */
export async function exchangeToken(tokex: Tokex, http: TokenEndpointRequest): Promise<HttpResult> {
  return audited(tokex.auditor, 'token', http, tokex.now(), (trail) => grant(tokex, http, trail));
}

async function grant(tokex: Tokex, http: TokenEndpointRequest, trail: AuditTrail): Promise<HttpResult> {
  // 1. The request (RFC 8693 §2.1).
  if (http.body.byteLength > MAX_BODY_BYTES) throw new TokexError('body_too_large', `the request body exceeds ${MAX_BODY_BYTES} bytes`);
  const request = parseTokenRequest(http.contentType, Buffer.from(http.body.buffer, http.body.byteOffset, http.body.byteLength).toString('utf8'), trail);

  // 2. The subject token: who is asking; and, for delegation, the actor token: who acts for them (§1.1).
  const caller = await tokex.validator.validate(request.subjectToken, { trace: trail });
  const delegation: Delegation | undefined =
    request.actorToken === undefined
      ? undefined
      : await validateActor(tokex.validator, request.actorToken, caller, (name) => issuerKindOf(tokex.policy, name), { trace: trail });

  // 3. The policy: what this caller (with this actor) may have for this target, down-scoped, never widened.
  const nowMs = tokex.now();
  const decision = decideToken(tokex.policy, tokex.denyList(), caller, request, nowMs / 1000, trail, delegation?.actor);
  const { grant, scopes } = decision;

  // 4. The token (RFC 8693 §2.2.1): from Entra as one of tokex's identities, or signed by tokex.
  // `expiresIn` is the real remaining lifetime: for a minted token from the instant its `iat` was
  // taken; for an Entra token (cached or fresh) from the instant it came back, never overstated.
  let issued: { token: string; expiresAt: number; expiresIn: number };
  if (grant.kind === 'entra') {
    const { identity, target, onBehalfOf } = grant;
    const entra = decision.obo ? await tokex.entra.getTokenOnBehalfOf(identity, target, decision.obo) : await tokex.entra.getToken(identity, target);
    issued = {
      token: entra.token,
      expiresAt: Math.floor(entra.expiresOnTimestamp / 1000),
      expiresIn: Math.max(0, Math.floor((entra.expiresOnTimestamp - tokex.now()) / 1000)),
    };
    trail.grant({
      kind: 'entra',
      identity,
      ...(onBehalfOf && { onBehalfOf: true }),
      scopes: [...scopes],
      expiresAt: new Date(entra.expiresOnTimestamp).toISOString(),
    });
  } else {
    const minted = await mintAccessToken(tokex.signingKeys.current, {
      issuer: tokex.settings.issuer,
      caller,
      audience: grant.target,
      scopes,
      lifetimeSeconds: grant.lifetimeSeconds,
      act: delegation?.act,
      nowSeconds: Math.floor(nowMs / 1000),
    });
    issued = { token: minted.token, expiresAt: minted.expiresAt, expiresIn: Math.max(0, minted.expiresAt - Math.floor(nowMs / 1000)) };
    trail.grant({ kind: 'minted', scopes: [...scopes], expiresAt: new Date(minted.expiresAt * 1000).toISOString(), jti: minted.jti });
  }
  return {
    status: 200,
    headers: { ...NO_STORE, 'x-correlation-id': http.correlationId },
    body: {
      access_token: issued.token,
      issued_token_type: request.requestedTokenType,
      token_type: 'Bearer',
      expires_in: issued.expiresIn,
      scope: scopes.join(' '),
    },
  };
}
