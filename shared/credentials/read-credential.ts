import { performance } from 'node:perf_hooks';
import { callerSummary, noteFailure, openRecord, tokenFingerprint, type AuditRecord } from '../audit/record.js';
import { withDeadline } from '../deadline.js';
import { reasonEntry, TokexError, type Reason } from '../errors.js';
import { NO_STORE, type HttpResult } from '../http-result.js';
import { SECRET_NAME } from '../patterns.js';
import { rulesFor, secretGrantFor } from '../policy/match.js';
import type { Tokex } from '../tokex.js';
import { isReservedSecret, reservedSecretNames } from './reserved.js';

/** RFC 6750 §2.1: `Bearer` (any case), one space, a b64token. */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

export interface CredentialRequest {
  readonly name: string;
  readonly authorization: string | null;
  readonly clientIp: string | undefined;
  readonly correlationId: string;
}

/**
 * GET /credentials/{name}: a Key Vault secret for a caller whose policy allows that name. The
 * policy is checked before Key Vault is asked, so a caller learns nothing about names it may not read.
 */
export async function readCredential(tokex: Tokex, http: CredentialRequest): Promise<HttpResult> {
  const started = performance.now();
  const record = openRecord('credential.read', http.correlationId, http.clientIp, tokex.now());
  record.request = { secret: http.name.slice(0, 127) };
  let result: HttpResult;
  try {
    result = await read(tokex, http, record);
  } catch (err) {
    const failure = noteFailure(record, err);
    result = errorResult(failure.reason, http.correlationId, failure.retryAfter);
  }
  return tokex.auditor.conclude(record, result, started, () => errorResult('audit_unavailable', http.correlationId, 5));
}

async function read(tokex: Tokex, http: CredentialRequest, record: AuditRecord): Promise<HttpResult> {
  // 1. The caller, from its bearer token, validated as for /token.
  const bearer = http.authorization === null ? undefined : BEARER.exec(http.authorization.trim())?.[1];
  if (bearer === undefined) throw new TokexError('malformed_request', http.authorization === null ? 'no Authorization header' : 'Authorization is not "Bearer <token>"');
  record.subjectTokenId = tokenFingerprint(bearer);
  const caller = await tokex.validator.validate(bearer);
  record.caller = callerSummary(caller);

  // 2. tokex's own secrets are never served, whatever the policy says (and Key Vault is not asked).
  if (isReservedSecret(http.name, reservedSecretNames(tokex.policy, tokex.settings.signingKeySecret))) {
    throw new TokexError('secret_reserved', 'the secret is one tokex itself uses (signing key or an identity\'s credential)');
  }

  // 3. The policy, before Key Vault: an unknown caller and a forbidden name look alike.
  const rules = rulesFor(tokex.policy, caller.issuerName, caller.claims);
  if (rules.length === 0) throw new TokexError('no_rule', 'caller matches no rule');
  const match = SECRET_NAME.test(http.name) ? secretGrantFor(rules, http.name) : undefined;
  if (!match) throw new TokexError('secret_not_allowed', 'no rule of this caller allows the secret');
  record.rule = match.rule.name;

  // 4. The secret, unless outside its Key Vault validity window (`nbf`..`exp`).
  const secret = await withDeadline(`Key Vault secret "${http.name}"`, (signal) => tokex.secrets.get(http.name, { signal }), tokex.downstreamDeadlineMs);
  if (!secret) throw new TokexError('secret_not_found', 'the secret does not exist');
  const now = tokex.now();
  if (secret.expiresOn !== null && secret.expiresOn.getTime() <= now) throw new TokexError('secret_expired', 'the secret is past its Key Vault expiry (exp)');
  if (secret.notBefore !== null && secret.notBefore.getTime() > now) throw new TokexError('secret_expired', 'the secret is not valid yet (Key Vault nbf)');
  record.grant = { kind: 'secret', ...(secret.expiresOn && { expiresAt: secret.expiresOn.toISOString() }) };
  return {
    status: 200,
    headers: { ...NO_STORE, 'x-correlation-id': http.correlationId },
    body: {
      name: secret.name,
      value: secret.value,
      version: secret.version,
      contentType: secret.contentType,
      expiresOn: secret.expiresOn ? secret.expiresOn.toISOString() : null,
    },
  };
}

/** RFC 6750 §3: 401 with a challenge for token problems (no error code when there was no token), 403 for policy. */
function errorResult(reason: Reason, correlationId: string, retryAfter?: number): HttpResult {
  const entry = reasonEntry(reason);
  const headers: Record<string, string> = { ...NO_STORE, 'x-correlation-id': correlationId };
  const description = `${entry.message} (correlation id ${correlationId})`;
  switch (entry.class) {
    case 'request':
      headers['www-authenticate'] = 'Bearer';
      return { status: 401, headers, body: { error: 'invalid_request', error_description: `A bearer token is required (correlation id ${correlationId})` } };
    case 'token':
      headers['www-authenticate'] = 'Bearer error="invalid_token"';
      return { status: 401, headers, body: { error: 'invalid_token', error_description: `The bearer token is not acceptable. (correlation id ${correlationId})` } };
    case 'policy':
      return { status: 403, headers, body: { error: 'access_denied', error_description: `The credential is not available to this caller. (correlation id ${correlationId})` } };
    case 'not_found':
      return { status: 404, headers, body: { error: 'not_found', error_description: description } };
    case 'unavailable':
      headers['retry-after'] = String(retryAfter ?? 5);
      return { status: 503, headers, body: { error: 'temporarily_unavailable', error_description: description } };
    default:
      return { status: 500, headers, body: { error: 'server_error', error_description: description } };
  }
}
