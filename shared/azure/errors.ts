import { TokexError } from '../errors.js';

/**
 * An Azure SDK failure as a 503, carrying only what is safe to log: the error's name, HTTP status
 * and service code, never its message (which can quote request content) or any token.
 */
export function downstreamFailure(what: string, err: unknown): TokexError {
  if (err instanceof TokexError) return err;
  const e = err as { name?: string; statusCode?: number; code?: string; response?: { headers?: { get?(n: string): string | undefined } } };
  const parts = [e?.name ?? 'Error', e?.statusCode, e?.code].filter((p) => p !== undefined && p !== '');
  return new TokexError('downstream_unavailable', `${what}: ${parts.join(' ')}`, { retryAfter: retryAfterOf(e), cause: err });
}

function retryAfterOf(err: { response?: { headers?: { get?(n: string): string | undefined } } }): number {
  const header = err?.response?.headers?.get?.('retry-after');
  const seconds = header === undefined ? NaN : Number(header);
  return Number.isFinite(seconds) ? Math.min(Math.max(Math.ceil(seconds), 1), 60) : 5;
}
