import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { HttpMethod } from '@azure/functions';
import type { Route } from '../functions/routes.js';
import { log } from '../shared/log.js';

/** Requests whose headers exceed this are refused by Node itself; the 16 KiB token cap is tokex's own. */
const MAX_HEADER_BYTES = 64 * 1024;
/**
 * Bodies are cut past this, so a huge upload costs no memory. The handlers apply tokex's own, smaller
 * limit (64 KiB at /token) and refuse what exceeds it; this host needs none of tokex's code to do so,
 * and can serve the deployed bundle without loading the source tree.
 */
const MAX_BUFFERED_BODY_BYTES = 1024 * 1024;
/** A slow client is cut off: the headers within 10 s, the whole request within 30 s (Node answers 408). */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/** A request the host itself refused (malformed Host, absolute-form target) at an audited endpoint. */
export interface HostRefusal {
  readonly event: 'token.exchange' | 'credential.read';
  readonly correlationId: string;
  readonly clientIp: string | undefined;
  readonly detail: string;
}

export interface LocalHostOptions {
  readonly port: number;
  readonly host: string;
  readonly extra?: StaticRoutes;
  /** Audits the host's own refusals; given by the caller, so this host loads none of tokex's code. */
  readonly onRefused?: (refusal: HostRefusal) => Promise<void>;
  /** For tests: shorter deadlines, checked this often (Node's default check interval is 30 s). */
  readonly timeouts?: { readonly headersMs: number; readonly requestMs: number; readonly checkIntervalMs: number };
}

export interface LocalHost {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/** Extra routes only the local host serves (the dev issuer's JWKS). */
export type StaticRoutes = Readonly<Record<string, () => unknown>>;

/** A request as the Functions host hands it to a function: headers joined, query and route parameters as maps. */
export interface HostRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly query: Record<string, string>;
  readonly params: Record<string, string>;
  readonly body?: Buffer;
}

export interface HostResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** An HTTP function as the host sees it: where it answers, and how to invoke it. */
export interface HostFunction {
  readonly name: string;
  readonly methods: readonly HttpMethod[];
  /** Functions route template (routePrefix is ""). */
  readonly route: string;
  invoke(request: HostRequest): Promise<HostResponse>;
}

/**
 * Serves the same handlers as the Functions host, at the same routes, with real @azure/functions
 * HttpRequest/InvocationContext objects: what runs here is what runs in Azure.
 */
export async function startLocalHost(routes: readonly Route[], options: LocalHostOptions): Promise<LocalHost> {
  return startHost(routes.map(viaHttpRequest), options);
}

/** Serves these functions however each is invoked (the source tree's handlers, or a package's, see package-host.ts). */
export async function startHost(functions: readonly HostFunction[], options: LocalHostOptions): Promise<LocalHost> {
  const timeouts = options.timeouts ?? { headersMs: HEADERS_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS, checkIntervalMs: 1_000 };
  const compiled = functions.map(compileRoute);
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      keepAliveTimeout: 5_000,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    },
    (req, res) => {
      serve(compiled, options, req, res).catch((err: unknown) => {
        // A client cut off mid-body (the request timeout answered 408) is gone: nothing to answer, no bug.
        if (res.writableEnded || res.destroyed) return log.warn('client gone before its request was read', { error: (err as Error).name });
        log.error('local host failed to answer', { error: (err as Error).name });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'server_error', error_description: 'Internal error.' }));
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A function as the host matches it: its route template split once. */
interface CompiledRoute {
  readonly route: HostFunction;
  /** Literal segments as strings, `{name}` segments as the parameter name in an array. */
  readonly segments: readonly (string | readonly [string])[];
}

function compileRoute(route: HostFunction): CompiledRoute {
  return {
    route,
    segments: route.route.split('/').map((w) => {
      const param = /^\{(\w+)\}$/.exec(w);
      return param ? ([param[1]!] as const) : w;
    }),
  };
}

/** A function's `context.log` calls, as the host's log lines naming the function. */
export function functionLog(name: string): (level: string, ...args: unknown[]) => void {
  return (level, ...args) => log[level === 'error' || level === 'critical' ? 'error' : 'warn'](args.map(String).join(' '), { function: name });
}

/**
 * A source-tree handler invoked with @azure/functions' own HttpRequest and InvocationContext, its
 * answer read through HttpResponse, as the Functions worker would.
 */
function viaHttpRequest(route: Route): HostFunction {
  // @azure/functions is CommonJS. Required, not imported: an ESM import of it would first have Node
  // scan its 150 KB for named exports (about 30 ms of every local cold start).
  const { HttpRequest, HttpResponse, InvocationContext } = createRequire(import.meta.url)('@azure/functions') as typeof import('@azure/functions');
  const logHandler = functionLog(route.name);
  return {
    name: route.name,
    methods: route.methods,
    route: route.route,
    invoke: async ({ body, ...rest }) => {
      const request = new HttpRequest({ ...rest, ...(body !== undefined && { body: { bytes: body } }) });
      const context = new InvocationContext({ invocationId: randomUUID(), functionName: route.name, logHandler });
      const init = (await route.handler(request, context)) as ConstructorParameters<typeof HttpResponse>[0] & {};
      // A JSON answer (every tokex handler's): status and headers through HttpResponse as in Azure, the
      // body serialised here exactly as HttpResponse would (JSON.stringify, application/json unless set)
      // instead of read back through its web stream, which costs more than the rest of the answer.
      const json = init.jsonBody !== undefined && init.body === undefined && !NULL_BODY_STATUSES.has(init.status ?? 200);
      const response = new HttpResponse(json ? { ...init, jsonBody: undefined } : init);
      const headers: Record<string, string> = {};
      for (const [name, value] of response.headers) headers[name] = value;
      if (json) {
        headers['content-type'] ??= 'application/json';
        return { status: response.status, headers, body: Buffer.from(JSON.stringify(init.jsonBody)) };
      }
      return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
    },
  };
}

/** A path of plain characters, not starting with `//`: URL would not change it, so it is used as it is. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9\-._~/]*$/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** The request target's path and query; anything unusual is normalised by URL exactly as before. */
function splitTarget(target: string): { pathname: string; search: string } {
  const q = target.indexOf('?');
  const pathname = q < 0 ? target : target.slice(0, q);
  if (PLAIN_PATH.test(pathname) && !DOT_SEGMENT.test(pathname)) return { pathname, search: q < 0 ? '' : target.slice(q) };
  const url = new URL(target, 'http://localhost');
  return { pathname: url.pathname, search: url.search };
}

async function serve(routes: readonly CompiledRoute[], options: LocalHostOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const extra = options.extra ?? {};
  const malformed = malformedRequestLine(req);
  if (malformed !== undefined) return refuse(req, res, malformed, options.onRefused);
  const { pathname, search } = splitTarget(req.url ?? '/');
  const path = pathname.replace(/^\/+/, '');
  const staticRoute = extra[pathname];
  if (staticRoute && req.method === 'GET') {
    return send(res, 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, Buffer.from(JSON.stringify(staticRoute())));
  }
  let match: { compiled: CompiledRoute; params: Record<string, string> } | undefined;
  let allowed: HttpMethod[] | undefined;
  for (const compiled of routes) {
    const params = matchSegments(compiled.segments, path);
    if (params === undefined) continue;
    if (compiled.route.methods.includes(req.method as HttpMethod)) {
      match = { compiled, params };
      break;
    }
    allowed ??= [];
    allowed.push(...compiled.route.methods);
  }
  if (!match) {
    req.resume();
    if (allowed) {
      const allow = allowed.join(', ');
      return send(
        res,
        405,
        { allow, 'content-type': 'application/json' },
        Buffer.from(JSON.stringify({ error: 'invalid_request', error_description: `Use ${allow}.` })),
      );
    }
    return send(res, 404, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ error: 'not_found' })));
  }

  const body = await readCapped(req, MAX_BUFFERED_BODY_BYTES);
  const headers: Record<string, string> = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // The front end in Azure appends the client address; here it is the socket's, never the client's say.
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  const answer = await match.compiled.route.invoke({
    method: req.method ?? 'GET',
    url: `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    headers,
    // The query as a map, as the Functions host hands it over (and HttpRequest then parses no URL).
    query: search === '' ? {} : Object.fromEntries(new URLSearchParams(search)),
    params: match.params,
    ...(body.byteLength > 0 && req.method !== 'GET' && req.method !== 'HEAD' && { body }),
  });
  send(res, answer.status, answer.headers, answer.body);
}

/** Statuses that never carry a body (HttpResponse drops one). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * What Azure's front end would never pass on: an absolute-form request target (`POST http://x/token`,
 * proxy style) or a Host header that is not `host[:port]`. Undefined when the request line is fine.
 */
function malformedRequestLine(req: IncomingMessage): string | undefined {
  if (!req.url?.startsWith('/')) return 'the request target is not origin-form (absolute-form or asterisk)';
  const host = req.headers.host;
  if (host === undefined) return undefined;
  // RFC 9110 §7.2: uri-host [ ":" port ]; URL parsing alone would forgive userinfo, a path or spaces.
  if (!HOST_HEADER.test(host)) return 'the Host header is malformed';
  // A client sends the same Host on every request: parsed by URL once, not per request.
  if (!validHosts.has(host)) {
    try {
      new URL(`http://${host}`);
    } catch {
      return 'the Host header is malformed';
    }
    if (validHosts.size >= 1_000) validHosts.clear();
    validHosts.add(host);
  }
  return undefined;
}

/** Host headers already found well-formed (bounded: cleared when full). */
const validHosts = new Set<string>();

/** An IP literal or a reg-name (RFC 3986 §3.2.2), then an optional port. */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{0,5})?$/;

/** 400 invalid_request, audited (through `onRefused`) when the path was an audited endpoint. */
async function refuse(req: IncomingMessage, res: ServerResponse, detail: string, onRefused: LocalHostOptions['onRefused']): Promise<void> {
  req.resume();
  const correlationId = randomUUID();
  const path = /^(?:[a-z][a-z0-9+.-]*:\/\/[^/]*)?\/*([^?#]*)/i.exec(req.url ?? '')?.[1] ?? '';
  const event = path === 'token' ? 'token.exchange' : path.startsWith('credentials/') ? 'credential.read' : undefined;
  if (event && onRefused) await onRefused({ event, correlationId, clientIp: req.socket.remoteAddress, detail });
  const body = { error: 'invalid_request', error_description: `The request is malformed. (correlation id ${correlationId})` };
  send(res, 400, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-correlation-id': correlationId }, Buffer.from(JSON.stringify(body)));
}

/** Reads the body up to `limit + 1` bytes and discards the rest, so a huge upload costs no memory. */
function readCapped(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > limit) return;
      chunks.push(chunk);
      size += chunk.byteLength;
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer): void {
  res.writeHead(status, { ...headers, 'content-length': String(body.byteLength) });
  res.end(body);
}

/** Matches a Functions route template (`credentials/{name}`) against a path; undefined when it does not. */
export function matchRoute(template: string, path: string): Record<string, string> | undefined {
  return matchSegments(
    compileRoute({ name: '', methods: [], route: template, invoke: async () => ({ status: 500, headers: {}, body: Buffer.alloc(0) }) }).segments,
    path,
  );
}

function matchSegments(want: CompiledRoute['segments'], path: string): Record<string, string> | undefined {
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (typeof w !== 'string') {
      if (g === '') return undefined;
      try {
        params[w[0]] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) return undefined;
  }
  return params;
}
