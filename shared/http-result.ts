import { reasonEntry, type Reason } from './errors.js';

/** What a handler in shared/ answers; functions/ turns it into an @azure/functions response. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** Token responses and errors must not be cached (RFC 6749 §5.1). */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/**
 * An RFC 6749 §5.2 error body. `error_description` is the reason's generic message plus the
 * correlation id: it never says which claim, rule or key failed.
 */
export function oauthError(reason: Reason, correlationId: string, retryAfter?: number): HttpResult {
  const entry = reasonEntry(reason);
  const headers: Record<string, string> = { ...NO_STORE, 'x-correlation-id': correlationId };
  if (entry.status === 503) headers['retry-after'] = String(retryAfter ?? 5);
  return {
    status: entry.status,
    headers,
    body: { error: entry.error ?? 'server_error', error_description: `${entry.message} (correlation id ${correlationId})` },
  };
}
