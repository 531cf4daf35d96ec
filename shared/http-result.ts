import { answerFor, type Endpoint, type Reason } from './errors.js';

/** What a handler in shared/ answers; functions/ turns it into an @azure/functions response. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** Token responses and errors must not be cached (RFC 6749 §5.1). */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/**
 * The error answer of `endpoint` for `reason`, from the one table in errors.ts: an RFC 6749 §5.2
 * body whose `error_description` is the reason's message (or, for a request-shape refusal, the
 * detail naming the parameter) plus the correlation id, which is also a header.
 */
export function errorResult(
  endpoint: Endpoint,
  reason: Reason,
  correlationId: string,
  options: { detail?: string; retryAfter?: number | undefined } = {},
): HttpResult {
  const answer = answerFor(reason, endpoint);
  const headers: Record<string, string> = { ...NO_STORE, 'x-correlation-id': correlationId };
  if (answer.status === 503) headers['retry-after'] = String(options.retryAfter ?? 5);
  if (answer.challenge) headers['www-authenticate'] = answer.challenge;
  const message = answer.tellsDetail && options.detail ? sentence(options.detail) : answer.message;
  return { status: answer.status, headers, body: { error: answer.error, error_description: `${message} (correlation id ${correlationId})` } };
}

/** An RFC 6749 §5.2 error of POST /token. */
export function oauthError(reason: Reason, correlationId: string, retryAfter?: number): HttpResult {
  return errorResult('token', reason, correlationId, { retryAfter });
}

function sentence(detail: string): string {
  return /[.!?]$/.test(detail) ? detail : `${detail}.`;
}
