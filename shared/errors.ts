import { TOKEN_EXCHANGE_GRANT } from './protocol.js';

/**
 * Every reason an exchange or credential read can end with, in one table: the stable audit
 * reason code and, for each endpoint, the HTTP status, the error code, the `WWW-Authenticate`
 * challenge (/credentials) and the message the caller sees. A request-shape refusal tells the
 * caller which parameter is wrong (RFC 6749 §5.2 allows it); a token or policy refusal never says
 * which claim or rule failed: the audit record does.
 */
export type OAuthError = 'invalid_request' | 'invalid_target' | 'invalid_scope' | 'unsupported_grant_type' | 'temporarily_unavailable' | 'server_error';

/** What kind of failure a reason is. */
export type ReasonClass = 'ok' | 'request' | 'token' | 'policy' | 'not_found' | 'unavailable' | 'bug';

/** The answer one endpoint gives for a reason. */
export interface Answer {
  readonly status: number;
  /** The `error` member of the JSON body. */
  readonly error: string;
  readonly message: string;
  /** RFC 6750 §3 challenge (/credentials only). */
  readonly challenge?: string;
  /** The caller is told the refusal's detail (which parameter): request-shape refusals only. */
  readonly tellsDetail?: boolean;
}

interface ReasonEntry {
  readonly class: ReasonClass;
  /** POST /token (RFC 6749 §5.2, RFC 8693 §2.2.2). */
  readonly token: Answer;
  /** GET /credentials/{name} (RFC 6750 §3). */
  readonly credentials: Answer;
}

const TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/** A malformed request: /token names the parameter; /credentials only ever lacks a usable bearer token. */
const request = (error: OAuthError, message: string, status = 400): ReasonEntry => ({
  class: 'request',
  token: { status, error, message, tellsDetail: true },
  credentials: { status: 401, error: 'invalid_request', message: 'A bearer token is required.', challenge: 'Bearer' },
});
const badToken: ReasonEntry = {
  class: 'token',
  token: { status: 400, error: 'invalid_request', message: 'The subject token is not acceptable.' },
  credentials: { status: 401, error: 'invalid_token', message: 'The bearer token is not acceptable.', challenge: TOKEN_CHALLENGE },
};
const notForThisCaller = { status: 403, error: 'access_denied', message: 'The credential is not available to this caller.' };
const policy = (error: OAuthError, message: string): ReasonEntry => ({
  class: 'policy',
  token: { status: 400, error, message },
  credentials: notForThisCaller,
});
const unavailable = (message: string): ReasonEntry => {
  const answer = { status: 503, error: 'temporarily_unavailable', message };
  return { class: 'unavailable', token: answer, credentials: answer };
};
const bug: ReasonEntry = {
  class: 'bug',
  token: { status: 500, error: 'server_error', message: 'Internal error.' },
  credentials: { status: 500, error: 'server_error', message: 'Internal error.' },
};

export const REASONS = {
  ok: { class: 'ok', token: { status: 200, error: '', message: 'ok' }, credentials: { status: 200, error: '', message: 'ok' } },
  // the request
  malformed_request: request('invalid_request', 'The request is malformed.'),
  unsupported_grant_type: request('unsupported_grant_type', `Only ${TOKEN_EXCHANGE_GRANT} is supported.`),
  unsupported_token_type: request('invalid_request', 'The token type is not supported.'),
  body_too_large: request('invalid_request', 'The request body exceeds 64 KiB.', 413),
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
  // the policy (a caller matching no rule is refused like a bad token at /token: RFC 8693 §2.2.2)
  no_rule: { ...badToken, class: 'policy', credentials: notForThisCaller },
  caller_denied: { ...badToken, class: 'policy', credentials: notForThisCaller },
  target_not_allowed: policy('invalid_target', 'The requested target is not available to this caller.'),
  scope_not_allowed: policy('invalid_scope', 'A requested scope is not available for this target.'),
  // delegation: the actor is not one the subject or the policy lets act (RFC 8693 §4.4), or the chain is too deep
  actor_not_allowed: {
    ...badToken,
    class: 'policy',
    token: { ...badToken.token, message: 'The actor token is not acceptable for this subject.' },
    credentials: notForThisCaller,
  },
  // on-behalf-of: the subject is not a user token for the OBO app, or Entra refused it (invalid_grant)
  obo_refused: policy('invalid_request', 'The subject token cannot be exchanged on behalf of its user for this target.'),
  secret_not_allowed: policy('invalid_target', 'The credential is not available to this caller.'),
  // The signing key and identities' own `kv:` secrets: never served, whatever the globs say.
  secret_reserved: policy('invalid_target', 'The credential is not available to this caller.'),
  // the grant
  secret_not_found: {
    class: 'not_found',
    token: { status: 404, error: 'not_found', message: 'The credential does not exist.' },
    credentials: { status: 404, error: 'not_found', message: 'The credential does not exist.' },
  },
  // Past its Key Vault `exp` or before its `nbf`: answered as absent, as Key Vault's own clients would treat it.
  secret_expired: {
    class: 'not_found',
    token: { status: 404, error: 'not_found', message: 'The credential does not exist.' },
    credentials: { status: 404, error: 'not_found', message: 'The credential does not exist.' },
  },
  downstream_unavailable: unavailable('A downstream service is unavailable; retry later.'),
  audit_unavailable: unavailable('The audit log is unavailable; retry later.'),
  internal_error: bug,
} as const satisfies Record<string, ReasonEntry>;

export type Reason = keyof typeof REASONS;
export type Endpoint = 'token' | 'credentials';

export function reasonEntry(reason: Reason): ReasonEntry {
  return REASONS[reason];
}

/** The answer `endpoint` gives for `reason`. */
export function answerFor(reason: Reason, endpoint: Endpoint): Answer {
  return REASONS[reason][endpoint];
}

/**
 * A refusal or failure with a stable reason code. `detail` is for the audit record and the
 * diagnostic log (and, for request-shape refusals only, the caller); it must never hold a token
 * or secret value. Values taken from a token are quoted with `quote()`.
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

/** Longest value from a request or token quoted in a detail. */
export const MAX_QUOTED = 200;

/**
 * A value from a token or request for a detail: JSON-escaped (so control characters and quotes
 * cannot forge log lines) and cut to 200 characters. Never pass a token or secret value.
 */
export function quote(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length <= MAX_QUOTED ? json : `${json.slice(0, MAX_QUOTED - 1)}…`;
}
