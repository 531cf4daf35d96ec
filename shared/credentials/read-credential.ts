import { audited, type AuditTrail } from '../audit/trail.js';
import { withDeadline } from '../deadline.js';
import { quote, TokexError } from '../errors.js';
import { NO_STORE, type HttpResult } from '../http-result.js';
import { decideSecret } from '../policy/decide.js';
import type { Tokex } from '../tokex.js';

/** Key Vault secret names: anything else cannot exist, so cannot be allowed. */
const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
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
  return audited(tokex.auditor, 'credentials', http, tokex.now(), (trail) => read(tokex, http, trail));
}

async function read(tokex: Tokex, http: CredentialRequest, trail: AuditTrail): Promise<HttpResult> {
  trail.request({ secret: http.name.slice(0, 127) });
  // 1. The caller, from its bearer token, validated as for /token.
  const bearer = http.authorization === null ? undefined : BEARER.exec(http.authorization.trim())?.[1];
  if (bearer === undefined) throw new TokexError('malformed_request', http.authorization === null ? 'no Authorization header' : 'Authorization is not "Bearer <token>"');
  trail.subjectToken(bearer);
  const caller = await tokex.validator.validate(bearer, { trace: trail });

  // 2. The policy, before Key Vault: an unknown caller and a forbidden name look alike.
  const decision = decideSecret(tokex.policy, tokex.denyList(), caller, http.name, SECRET_NAME.test(http.name));
  trail.rule(decision.rule.name);

  // 3. The secret.
  const secret = await withDeadline(`Key Vault secret "${http.name}"`, (signal) => tokex.secrets.get(http.name, { signal }), tokex.downstreamDeadlineMs);
  if (!secret) throw new TokexError('secret_not_found', `secret ${quote(http.name)} does not exist`);
  trail.grant({ kind: 'secret', ...(secret.expiresOn && { expiresAt: secret.expiresOn.toISOString() }) });
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
