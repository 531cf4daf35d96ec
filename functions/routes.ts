import type { HttpHandler, HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AuditEvent } from '../shared/audit/record.js';
import type { Tokex } from '../shared/tokex.js';
import { credentials } from './credentials.js';
import { health } from './health.js';
import { jwks } from './jwks.js';
import { metadata } from './metadata.js';
import type { TokexApp } from './starter.js';
import { token } from './token.js';
import { notStarted } from './unavailable.js';

export interface Route {
  readonly name: string;
  readonly methods: readonly HttpMethod[];
  /** Functions route template (routePrefix is ""). */
  readonly route: string;
  readonly handler: HttpHandler;
}

/** A handler of a started tokex: functions/ adapts HTTP, shared/ does the work. */
type TokexHandler = (tokex: Tokex, request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Every function, once, bound to `app`: registered with the Functions host by index.ts and served
 * by the local host. Until `app` has started, each answers 503 (audited for /token and /credentials).
 */
export function createRoutes(app: TokexApp): readonly Route[] {
  const bind =
    (handler: TokexHandler, event?: AuditEvent): HttpHandler =>
    async (request, context) => {
      let tokex: Tokex;
      try {
        tokex = await app.tokex();
      } catch (err) {
        return notStarted(err, event, request, context);
      }
      return handler(tokex, request, context);
    };
  return [
    { name: 'token', methods: ['POST'], route: 'token', handler: bind(token, 'token.exchange') },
    { name: 'credentials', methods: ['GET'], route: 'credentials/{name}', handler: bind(credentials, 'credential.read') },
    { name: 'jwks', methods: ['GET'], route: '.well-known/jwks.json', handler: bind(jwks) },
    { name: 'metadata', methods: ['GET'], route: '.well-known/oauth-authorization-server', handler: bind(metadata) },
    { name: 'health', methods: ['GET'], route: 'health', handler: bind(health) },
  ];
}
