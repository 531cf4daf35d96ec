import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { readCredential } from '../shared/credentials/read-credential.js';
import type { Tokex } from '../shared/tokex.js';
import { clientIpOf, correlationIdOf, toResponse } from './http.js';

/** GET /credentials/{name}: a Key Vault secret the caller's policy allows. */
export async function credentials(tokex: Tokex, request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const result = await readCredential(tokex, {
    name: request.params.name ?? '',
    authorization: request.headers.get('authorization'),
    clientIp: clientIpOf(request),
    correlationId: correlationIdOf(context),
  });
  return toResponse(result);
}
