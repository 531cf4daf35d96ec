import { TOKEN_EXCHANGE_GRANT } from './protocol.js';

/**
 * Every reason an exchange or credential read can end with, in one table: the stable audit
 * reason code, the OAuth error and HTTP status it maps to at POST /token, and the short message
 * the caller sees. The message never says which claim or rule failed; the audit record does.
 */
export type OAuthError =
  | 'invalid_request'
  | 'invalid_target'
  | 'invalid_scope'
  | 'unsupported_grant_type'
  | 'temporarily_unavailable'
  | 'server_error';

/** What kind of failure a reason is; /credentials maps these to 401/403/404/503. */
export type ReasonClass = 'ok' | 'request' | 'token' | 'policy' | 'not_found' | 'unavailable' | 'bug';

interface ReasonEntry {
  readonly class: ReasonClass;
  readonly error?: OAuthError;
  readonly status: number;
  readonly message: string;
}

const bad = (message: string): ReasonEntry => ({ class: 'request', error: 'invalid_request', status: 400, message });
const badToken: ReasonEntry = {
  class: 'token',
  error: 'invalid_request',
  status: 400,
  message: 'The subject token is not acceptable.',
};

export const REASONS = {
  ok: { class: 'ok', status: 200, message: 'ok' },
  // the request
  malformed_request: bad('The request is malformed.'),
  unsupported_grant_type: {
    class: 'request',
    error: 'unsupported_grant_type',
    status: 400,
    message: `Only ${TOKEN_EXCHANGE_GRANT} is supported.`,
  },
  unsupported_token_type: bad('The token type is not supported.'),
  body_too_large: { class: 'request', error: 'invalid_request', status: 413, message: 'The request body exceeds 64 KiB.' },
  // the subject token
  malformed_token: badToken,
  token_too_large: badToken,
  unknown_issuer: badToken,
  unknown_key: badToken,
  algorithm_not_allowed: badToken,
  forbidden_header: badToken,
  token_type_not_allowed: badToken,
  invalid_signature: badToken,
  expired: badToken,
  not_yet_valid: badToken,
  wrong_issuer: badToken,
  wrong_audience: badToken,
  tenant_not_allowed: badToken,
  missing_claim: badToken,
  // the policy (a caller matching no rule is refused like a bad token: RFC 8693 §2.2.2)
  no_rule: { ...badToken, class: 'policy' },
  target_not_allowed: {
    class: 'policy',
    error: 'invalid_target',
    status: 400,
    message: 'The requested target is not available to this caller.',
  },
  scope_not_allowed: {
    class: 'policy',
    error: 'invalid_scope',
    status: 400,
    message: 'A requested scope is not available for this target.',
  },
  // delegation: the actor is not one the subject or the policy lets act (RFC 8693 §4.4), or the chain is too deep
  actor_not_allowed: { ...badToken, class: 'policy', message: 'The actor token is not acceptable for this subject.' },
  // on-behalf-of: the subject is not a user token for the OBO app, or Entra refused it (invalid_grant)
  obo_refused: bad('The subject token cannot be exchanged on behalf of its user for this target.'),
  secret_not_allowed: {
    class: 'policy',
    error: 'invalid_target',
    status: 403,
    message: 'The credential is not available to this caller.',
  },
  // The signing key and identities' own `kv:` secrets: never served, whatever the globs say.
  secret_reserved: {
    class: 'policy',
    error: 'invalid_target',
    status: 403,
    message: 'The credential is not available to this caller.',
  },
  // the grant
  secret_not_found: { class: 'not_found', status: 404, message: 'The credential does not exist.' },
  // Past its Key Vault `exp` or before its `nbf`: answered as absent, as Key Vault's own clients would treat it.
  secret_expired: { class: 'not_found', status: 404, message: 'The credential does not exist.' },
  downstream_unavailable: {
    class: 'unavailable',
    error: 'temporarily_unavailable',
    status: 503,
    message: 'A downstream service is unavailable; retry later.',
  },
  audit_unavailable: {
    class: 'unavailable',
    error: 'temporarily_unavailable',
    status: 503,
    message: 'The audit log is unavailable; retry later.',
  },
  internal_error: { class: 'bug', error: 'server_error', status: 500, message: 'Internal error.' },
} as const satisfies Record<string, ReasonEntry>;

export type Reason = keyof typeof REASONS;

export function reasonEntry(reason: Reason): ReasonEntry {
  return REASONS[reason];
}

/**
 * A refusal or failure with a stable reason code. `detail` is for the audit record and the
 * diagnostic log only, never for the caller, and must never hold a token or secret value.
 */
export class TokexError extends Error {
  readonly reason: Reason;
  readonly detail: string;
  /** Seconds a client should wait before retrying (503 only). */
  readonly retryAfter: number | undefined;

  constructor(reason: Reason, detail: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(`${reason}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TokexError';
    this.reason = reason;
    this.detail = detail;
    this.retryAfter = options?.retryAfter;
  }
}

/** Bad settings or policy: stops startup with this one message. */
export class ConfigError extends Error {
  /** `cause`: set when the setting is fine but what it names could not be reached (then a retry may pass). */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
  }
}
