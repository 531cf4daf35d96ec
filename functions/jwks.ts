import type { HttpResponseInit } from '@azure/functions';
import { publicJwks } from '../shared/keys/signing-key.js';
import type { Tokex } from '../shared/tokex.js';

/** GET /.well-known/jwks.json: the public keys of minted tokens (current and previous). */
export async function jwks(tokex: Tokex): Promise<HttpResponseInit> {
  return { status: 200, headers: { 'cache-control': 'public, max-age=300' }, jsonBody: publicJwks(tokex.signingKeys) };
}
