import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { exchangeToken, MAX_BODY_BYTES } from '../shared/exchange/token-exchange.js';
import type { Tokex } from '../shared/tokex.js';
import { clientIpOf, correlationIdOf, readBody, toResponse } from './http.js';

/** POST /token: RFC 8693 token exchange. */
export async function token(tokex: Tokex, request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const result = await exchangeToken(tokex, {
    contentType: request.headers.get('content-type'),
    body: await readBody(request, MAX_BODY_BYTES),
    clientIp: clientIpOf(request),
    correlationId: correlationIdOf(context),
  });
  return toResponse(result);
}
