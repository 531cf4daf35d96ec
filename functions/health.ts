import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { tokex } from './runtime.js';

/** GET /health: up and configured; says nothing about the policy. */
export async function health(_request: HttpRequest): Promise<HttpResponseInit> {
  await tokex();
  return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: { status: 'ok' } };
}
