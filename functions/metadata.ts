import type { HttpResponseInit } from '@azure/functions';
import { authorizationServerMetadata } from '../shared/metadata.js';
import type { Tokex } from '../shared/tokex.js';

/** GET /.well-known/oauth-authorization-server: RFC 8414 metadata. */
export async function metadata(tokex: Tokex): Promise<HttpResponseInit> {
  return { status: 200, headers: { 'cache-control': 'public, max-age=300' }, jsonBody: authorizationServerMetadata(tokex) };
}
