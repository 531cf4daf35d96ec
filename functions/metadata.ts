import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { authorizationServerMetadata } from '../shared/metadata.js';
import { tokex } from './runtime.js';

/** GET /.well-known/oauth-authorization-server: RFC 8414 metadata. */
export async function metadata(_request: HttpRequest): Promise<HttpResponseInit> {
  return { status: 200, headers: { 'cache-control': 'public, max-age=300' }, jsonBody: authorizationServerMetadata(await tokex()) };
}
