import type { HttpResponseInit } from '@azure/functions';

/** GET /health: up and configured (the core has started); says nothing about the policy. */
export async function health(): Promise<HttpResponseInit> {
  return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: { status: 'ok' } };
}
