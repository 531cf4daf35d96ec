import { performance } from 'node:perf_hooks';
import { actClaim, checkMayAct, type ActClaim } from '../caller/actor.js';
import type { Caller } from '../caller/caller.js';
import { CallerRefused } from '../caller/validate.js';
import { callerSummary, noteFailure, openRecord, requestSummary, tokenFingerprint, type AuditRecord } from '../audit/record.js';
import { TokexError } from '../errors.js';
import { mintAccessToken, subjectExpiry } from '../grants/minted.js';
import { oboUser } from '../grants/on-behalf-of.js';
import { NO_STORE, oauthError, type HttpResult } from '../http-result.js';
import { chooseTokenGrant, holdingRules } from '../policy/match.js';
import type { IssuerConfig } from '../policy/policy.js';
import type { Tokex } from '../tokex.js';
import { parseTokenRequest, type PartialRequest } from './request.js';

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
  const started = performance.now();
  const record = openRecord('token.exchange', http.correlationId, http.clientIp, tokex.now());
  const seen: PartialRequest = {};

  let result: HttpResult;
  try {
    result = await grant(tokex, http, record, seen);
  } catch (err) {
    const failure = noteFailure(record, err);
    result = oauthError(failure.reason, http.correlationId, failure.retryAfter);
  }
  if (seen.target !== undefined || seen.scopes !== undefined) record.request = requestSummary(seen.target, seen.scopes);
  if (seen.subjectToken !== undefined) record.subjectTokenId = tokenFingerprint(seen.subjectToken);
  if (seen.actorToken !== undefined) record.actorTokenId = tokenFingerprint(seen.actorToken);
  return tokex.auditor.conclude(record, result, started, () => oauthError('audit_unavailable', http.correlationId, 5));
}

async function grant(tokex: Tokex, http: TokenEndpointRequest, record: AuditRecord, seen: PartialRequest): Promise<HttpResult> {
  // 1. The request (RFC 8693 §2.1).
  if (http.body.byteLength > MAX_BODY_BYTES) throw new TokexError('body_too_large', `body over ${MAX_BODY_BYTES} bytes`);
  const request = parseTokenRequest(http.contentType, Buffer.from(http.body.buffer, http.body.byteOffset, http.body.byteLength).toString('utf8'), seen);

  // 2. The subject token: who is asking; and, for delegation, the actor token: who acts for them (§1.1).
  const caller = await tokex.validator.validate(request.subjectToken);
  record.caller = callerSummary(caller);
  const actor = request.actorToken === undefined ? undefined : await validateActor(tokex, request.actorToken, record);
  let act: ActClaim | undefined;
  if (actor) {
    checkMayAct(caller.claims, actor.claims);
    act = actClaim(actor, issuerKind(tokex, actor.issuerName));
  }

  // 3. The policy: what this caller (with this actor) may have for this target, down-scoped, never widened.
  const rules = holdingRules(tokex.policy, caller.issuerName, caller.claims, actor);
  // The first rule, in file order, that allows every requested scope for the target.
  const match = chooseTokenGrant(rules, request.target, request.scopes);
  if (!match) throw new TokexError('target_not_allowed', 'no rule of this caller grants the target');
  record.rule = match.rule.name;
  const { scopes } = match;
  if (!scopes) throw new TokexError('scope_not_allowed', 'a requested scope is not granted for the target');

  // 4. The token (RFC 8693 §2.2.1): from Entra as one of tokex's identities, or signed by tokex.
  // No grant of either kind outlives the subject token (also inside the clock tolerance).
  const nowMs = tokex.now();
  if (subjectExpiry(caller) <= Math.floor(nowMs / 1000)) throw new TokexError('expired', 'subject token is past its "exp" (inside the clock tolerance)');
  let issued: { token: string; expiresAt: number };
  if (match.grant.kind === 'entra') {
    const { identity, target, onBehalfOf } = match.grant;
    // On-behalf-of: a token for the subject's user, checked here so a request Entra would refuse never reaches it.
    const entra = onBehalfOf
      ? await tokex.entra.getTokenOnBehalfOf(identity, target, oboUser(caller, issuerKind(tokex, caller.issuerName), tokex.policy.identities.get(identity)!, request.subjectToken))
      : await tokex.entra.getToken(identity, target);
    issued = { token: entra.token, expiresAt: Math.floor(entra.expiresOnTimestamp / 1000) };
    record.grant = {
      kind: 'entra', identity, ...(onBehalfOf && { onBehalfOf: true }), scopes: [...scopes], expiresAt: new Date(entra.expiresOnTimestamp).toISOString(),
    };
  } else {
    const minted = await mintAccessToken(tokex.signingKeys.current, {
      issuer: tokex.settings.issuer,
      caller,
      audience: match.grant.target,
      scopes,
      lifetimeSeconds: match.grant.lifetimeSeconds,
      act,
      nowSeconds: Math.floor(nowMs / 1000),
    });
    issued = { token: minted.token, expiresAt: minted.expiresAt };
    record.grant = { kind: 'minted', scopes: [...scopes], expiresAt: new Date(minted.expiresAt * 1000).toISOString(), jti: minted.jti };
  }
  return {
    status: 200,
    headers: { ...NO_STORE, 'x-correlation-id': http.correlationId },
    body: {
      access_token: issued.token,
      issued_token_type: request.requestedTokenType,
      token_type: 'Bearer',
      // The real remaining lifetime, also for a cached Entra token, counted from the instant the
      // minted token's `iat` was taken (a second clock reading could straddle a second boundary).
      expires_in: Math.max(0, issued.expiresAt - Math.floor(nowMs / 1000)),
      scope: scopes.join(' '),
    },
  };
}

/**
 * The actor token, validated exactly like a subject token (same issuers, same checks). A refusal
 * keeps its reason and says "actor token" in its detail; the audit names the actor once verified.
 */
async function validateActor(tokex: Tokex, token: string, record: AuditRecord): Promise<Caller> {
  try {
    const actor = await tokex.validator.validate(token);
    record.actor = callerSummary(actor);
    return actor;
  } catch (err) {
    if (!(err instanceof TokexError)) throw err;
    if (err instanceof CallerRefused && err.caller) record.actor = callerSummary(err.caller);
    throw new TokexError(err.reason, `actor token: ${err.detail}`, { cause: err, ...(err.retryAfter !== undefined && { retryAfter: err.retryAfter }) });
  }
}

/** The kind of a trusted issuer, by name (oidc when unknown, the kind trusted with less). */
function issuerKind(tokex: Tokex, name: string): IssuerConfig['kind'] {
  return tokex.policy.issuers.find((i) => i.name === name)?.kind ?? 'oidc';
}
