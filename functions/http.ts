import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { HttpResult } from '../shared/http-result.js';
import { GUID } from '../shared/patterns.js';

export function toResponse(result: HttpResult): HttpResponseInit {
  return { status: result.status, headers: result.headers, jsonBody: result.body };
}

/** The Functions invocation id, so audit records join the host's own logs; a fresh UUID outside the host. */
export function correlationIdOf(context: InvocationContext): string {
  return GUID.test(context.invocationId) ? context.invocationId : randomUUID();
}

/**
 * The client address as the Azure front end saw it: the last X-Forwarded-For entry (earlier ones
 * are whatever the client sent), without a port. Only an IP address is kept.
 */
export function clientIpOf(request: HttpRequest): string | undefined {
  const last = request.headers.get('x-forwarded-for')?.split(',').pop()?.trim();
  if (!last) return undefined;
  if (isIP(last) !== 0) return last;
  const unbracketed = last.replace(BRACKETED, '$1');
  if (isIP(unbracketed) !== 0) return unbracketed;
  const portless = last.replace(PORT, '');
  return isIP(portless) !== 0 ? portless : undefined;
}

/** `[v6]` or `[v6]:port`, and `:port`: what may surround the address in an X-Forwarded-For entry. */
const BRACKETED = /^\[(.*)\](:\d+)?$/;
const PORT = /:\d+$/;

/** Reads at most `limit + 1` bytes: enough to tell a body is too large without buffering all of it. */
export async function readBody(request: HttpRequest, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > limit) break;
  }
  return Buffer.concat(chunks);
}
