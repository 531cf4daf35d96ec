/**
 * The caller's side of RFC 8693 against tokex: one POST /token, its answer or a typed error.
 * Shared by TokexCredential and `tokex get-token`.
 */
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_ACCESS_TOKEN } from '../shared/protocol.js';
import { isLoopbackUrl } from '../shared/url.js';

export { TOKEN_EXCHANGE_GRANT };
export const ACCESS_TOKEN_TYPE = TOKEN_TYPE_ACCESS_TOKEN;
const DEFAULT_TIMEOUT_MS = 15_000;

export interface ExchangeParameters {
  /** tokex's base URL, e.g. https://func-tokex-abc.azurewebsites.net */
  readonly endpoint: string;
  /** The caller's own token (an Entra access token for the tokex API). */
  readonly subjectToken: string;
  readonly resource?: string;
  readonly audience?: string;
  /** Space-separated; omitted means everything the policy allows for the target. */
  readonly scope?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface ExchangeResult {
  readonly accessToken: string;
  readonly issuedTokenType: string;
  readonly tokenType: string;
  readonly expiresIn: number;
  readonly scope: string;
  /** When the token expires, in ms since the epoch (from `expires_in` and the local clock). */
  readonly expiresOnTimestamp: number;
  readonly correlationId: string | undefined;
}

/**
 * tokex said no, or could not answer. `error` is the OAuth error code (`invalid_target`,
 * `temporarily_unavailable`, …, or `network_error` when tokex was not reached); `refused` tells a
 * policy or request refusal (do not retry) from unavailability (retry after `retryAfter` seconds).
 */
export class TokexExchangeError extends Error {
  readonly refused: boolean;
  constructor(
    readonly error: string,
    readonly status: number | undefined,
    readonly correlationId: string | undefined,
    readonly description: string | undefined,
    readonly retryAfter?: number,
  ) {
    super(`tokex: ${error}${status ? ` (HTTP ${status})` : ''}${description ? `: ${description}` : ''}`);
    this.name = 'TokexExchangeError';
    this.refused = status !== undefined && status >= 400 && status < 500;
  }
}

/**
 * Why `endpoint` may not be used, or undefined when it may: the subject token is the caller's own
 * credential, so it travels only over https, or plain http to this machine (loopback).
 */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `"${endpoint}" is not a URL`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return isLoopbackUrl(url)
      ? undefined
      : `refusing clear-text http to ${url.host}: the subject token would travel unencrypted; use https (http is allowed only for loopback)`;
  }
  return `"${endpoint}" is not an http(s) URL`;
}

export async function exchangeToken(params: ExchangeParameters): Promise<ExchangeResult> {
  const problem = endpointProblem(params.endpoint);
  // A caller's mistake, not an answer from tokex: a TypeError, as for any bad argument.
  if (problem !== undefined) throw new TypeError(`tokex: "endpoint": ${problem}`);
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: params.subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
  });
  if (params.resource !== undefined) form.set('resource', params.resource);
  if (params.audience !== undefined) form.set('audience', params.audience);
  if (params.scope !== undefined && params.scope !== '') form.set('scope', params.scope);

  const timeout = AbortSignal.timeout(params.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const started = Date.now();
  let response: Response;
  try {
    response = await fetch(new URL('/token', params.endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal: params.signal ? AbortSignal.any([params.signal, timeout]) : timeout,
    });
  } catch (err) {
    const why = timeout.aborted
      ? `no answer within ${params.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`
      : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    throw new TokexExchangeError('network_error', undefined, undefined, `${params.endpoint}: ${why}`);
  }
  const correlationId = response.headers.get('x-correlation-id') ?? undefined;
  let body: Record<string, unknown>;
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    throw new TokexExchangeError(response.ok ? 'invalid_response' : 'server_error', response.status, correlationId, 'the answer is not JSON');
  }
  if (!response.ok) {
    const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
    throw new TokexExchangeError(
      typeof body.error === 'string' ? body.error : 'server_error',
      response.status,
      correlationId,
      typeof body.error_description === 'string' ? body.error_description : undefined,
      Number.isFinite(retryAfter) ? retryAfter : undefined,
    );
  }
  if (typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
    throw new TokexExchangeError('invalid_response', response.status, correlationId, 'no access_token or expires_in');
  }
  return {
    accessToken: body.access_token,
    issuedTokenType: String(body.issued_token_type),
    tokenType: String(body.token_type),
    expiresIn: body.expires_in,
    scope: String(body.scope ?? ''),
    expiresOnTimestamp: started + body.expires_in * 1000,
    correlationId,
  };
}
