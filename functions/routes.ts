import type { HttpHandler, HttpMethod } from '@azure/functions';
import { credentials } from './credentials.js';
import { health } from './health.js';
import { jwks } from './jwks.js';
import { metadata } from './metadata.js';
import { token } from './token.js';

export interface Route {
  readonly name: string;
  readonly methods: readonly HttpMethod[];
  /** Functions route template (routePrefix is ""). */
  readonly route: string;
  readonly handler: HttpHandler;
}

/** Every function, once: registered with the Functions host by index.ts and served by the local host. */
export const routes: readonly Route[] = [
  { name: 'token', methods: ['POST'], route: 'token', handler: token },
  { name: 'credentials', methods: ['GET'], route: 'credentials/{name}', handler: credentials },
  { name: 'jwks', methods: ['GET'], route: '.well-known/jwks.json', handler: jwks },
  { name: 'metadata', methods: ['GET'], route: '.well-known/oauth-authorization-server', handler: metadata },
  { name: 'health', methods: ['GET'], route: 'health', handler: health },
];
