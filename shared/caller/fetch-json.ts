import { isAllowedFetchUrl } from '../url.js';

export const FETCH_TIMEOUT_MS = 5_000;
export const MAX_DOCUMENT_BYTES = 100 * 1024;

/** Why a metadata or JWKS fetch failed; never holds a response body. */
export class FetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FetchError';
  }
}

/**
 * GET a small JSON document (OIDC discovery, JWKS) with a deadline and a size cap, following no
 * redirects: a hostile or broken issuer can neither hang a request nor make tokex buffer megabytes.
 */
export async function fetchJson(url: string, signal?: AbortSignal, timeoutMs = FETCH_TIMEOUT_MS): Promise<unknown> {
  const text = await fetchText(url, signal, timeoutMs);
  try {
    return JSON.parse(text);
  } catch {
    throw new FetchError(`${url}: response is not JSON`);
  }
}

export async function fetchText(url: string, signal?: AbortSignal, timeoutMs = FETCH_TIMEOUT_MS): Promise<string> {
  if (!isAllowedFetchUrl(url)) throw new FetchError(`${url}: only https (or http on loopback) is fetched`);
  const deadline = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'manual', signal: combined, headers: { accept: 'application/json' } });
  } catch (err) {
    throw new FetchError(`${url}: ${deadline.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new FetchError(`${url}: HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_DOCUMENT_BYTES) {
    await response.body?.cancel();
    throw new FetchError(`${url}: document of ${declared} bytes exceeds ${MAX_DOCUMENT_BYTES}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > MAX_DOCUMENT_BYTES) {
        throw new FetchError(`${url}: document exceeds ${MAX_DOCUMENT_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof FetchError) throw err;
    throw new FetchError(`${url}: ${deadline.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}
