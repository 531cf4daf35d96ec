import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { publicJwks } from '../shared/keys/signing-key.js';
import { tokex } from './runtime.js';

/** GET /.well-known/jwks.json: the public keys of minted tokens (current and previous). */
export async function jwks(_request: HttpRequest): Promise<HttpResponseInit> {
  const { signingKeys } = await tokex();
  return { status: 200, headers: { 'cache-control': 'public, max-age=300' }, jsonBody: publicJwks(signingKeys) };
}
