import { type AuditTrail, audited } from '../audit/trail.js';
import { withDeadline } from '../deadline.js';
import { quote, TokexError } from '../errors.js';
import { type HttpResult, NO_STORE } from '../http-result.js';
import { SECRET_NAME } from '../patterns.js';
import { decideSecret } from '../policy/decide.js';
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
  return audited(tokex.auditor, 'credentials', http, tokex.now(), (trail) => read(tokex, http, trail));
}

async function read(tokex: Tokex, http: CredentialRequest, trail: AuditTrail): Promise<HttpResult> {
  trail.request({ secret: http.name.slice(0, 127) });
  // 1. The caller, from its bearer token, validated as for /token.
  const bearer = http.authorization === null ? undefined : BEARER.exec(http.authorization.trim())?.[1];
  if (bearer === undefined)
    throw new TokexError('malformed_request', http.authorization === null ? 'no Authorization header' : 'Authorization is not "Bearer <token>"');
  trail.subjectToken(bearer);
  const caller = await tokex.validator.validate(bearer, { trace: trail });

  // 2. tokex's own secrets are never served, whatever the policy says (and Key Vault is not asked).
  if (isReservedSecret(http.name, reservedSecretNames(tokex.policy, tokex.settings.signingKeySecret))) {
    throw new TokexError('secret_reserved', `secret ${quote(http.name)} is one tokex itself uses (signing key or an identity's credential)`);
  }

  // 3. The policy, before Key Vault: an unknown caller and a forbidden name look alike.
  decideSecret(tokex.policy, tokex.denyList(), caller, http.name, SECRET_NAME.test(http.name), trail);

  // 4. The secret, unless outside its Key Vault validity window (`nbf`..`exp`).
  const secret = await withDeadline(`Key Vault secret "${http.name}"`, (signal) => tokex.secrets.get(http.name, { signal }), tokex.downstreamDeadlineMs);
  if (!secret) throw new TokexError('secret_not_found', `secret ${quote(http.name)} does not exist`);
  const now = tokex.now();
  if (secret.expiresOn !== null && secret.expiresOn.getTime() <= now) {
    throw new TokexError('secret_expired', `secret ${quote(http.name)} expired ${secret.expiresOn.toISOString()} (Key Vault exp)`);
  }
  if (secret.notBefore !== null && secret.notBefore.getTime() > now) {
    throw new TokexError('secret_expired', `secret ${quote(http.name)} is not valid before ${secret.notBefore.toISOString()} (Key Vault nbf)`);
  }
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
