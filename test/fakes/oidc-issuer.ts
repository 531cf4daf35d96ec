import { type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, type JWK, type JWTPayload, SignJWT } from 'jose';
import { rsaKeyPair } from './rsa-keys.js';

/** How the fake answers discovery and JWKS requests. */
export type IssuerMode = 'ok' | 'down' | 'hang' | 'garbage' | 'huge';

export interface IssuerKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

export interface FakeIssuerOptions {
  /** Path of the issuer below the server root, e.g. `/<tid>/v2.0` for an Entra v2 shape. */
  readonly path?: string;
  /** Extra members for every published JWK (Entra's `issuer`). */
  readonly jwkExtras?: (key: IssuerKey) => Record<string, unknown>;
  /** The issuer string to publish in discovery (defaults to the issuer URL). */
  readonly discoveryIssuer?: string;
}

/**
 * An OIDC issuer on loopback standing in for Entra ID or any IdP: discovery, a JWKS, request
 * counters, fault modes, and a signer for well-formed or deliberately forged caller tokens.
 */
export class FakeIssuer {
  readonly hits = { discovery: 0, jwks: 0, other: 0 };
  mode: IssuerMode = 'ok';
  keys: IssuerKey[] = [];
  /** Discovery documents by path prefix (`/<tid>/v2.0`), for a server that plays several issuers. */
  readonly discoveryIssuers = new Map<string, string>();
  private constructor(
    private readonly server: Server,
    readonly origin: string,
    readonly issuer: string,
    private readonly options: FakeIssuerOptions,
  ) {}

  static async start(options: FakeIssuerOptions = {}): Promise<FakeIssuer> {
    let self: FakeIssuer | undefined;
    const server = createServer((req, res) => self!.handle(req.url ?? '/', res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    self = new FakeIssuer(server, origin, `${origin}${options.path ?? ''}`, options);
    self.keys.push(await newRsaKey('k1'));
    return self;
  }

  get jwksUri(): string {
    return `${this.origin}/keys`;
  }

  get key(): IssuerKey {
    return this.keys[0]!;
  }

  async addKey(kid: string): Promise<IssuerKey> {
    const key = await newRsaKey(kid);
    this.keys.push(key);
    return key;
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => ({ ...k.publicJwk, ...this.options.jwkExtras?.(k) })) };
  }

  /** A correctly signed RS256 token: `{iss, aud, iat, nbf, exp, sub}` plus `claims`; `claims` may unset any with undefined. */
  async token(
    claims: JWTPayload & Record<string, unknown>,
    options: { key?: IssuerKey; header?: Record<string, unknown>; alg?: string; expiresIn?: number } = {},
  ): Promise<string> {
    const key = options.key ?? this.key;
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = { iss: this.issuer, iat: now, nbf: now, exp: now + (options.expiresIn ?? 3600), ...claims };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    return new SignJWT(payload)
      .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'JWT', kid: key.kid, ...options.header } as { alg: string })
      .sign(key.privateKey);
  }

  /**
   * Signs any header and payload with RS256 by hand, for tokens jose would refuse to produce
   * (unknown `crit`, odd `kid` types, duplicate keys). `header`/`payload` strings are used verbatim.
   */
  signRaw(header: Record<string, unknown> | string, payload: Record<string, unknown> | string, key: IssuerKey = this.key): string {
    const input = `${b64u(header)}.${b64u(payload)}`;
    return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
  }

  /** The registered claims of a valid token from this issuer, to build forged ones from. */
  claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return { iss: this.issuer, iat: now, nbf: now, exp: now + 3600, ...extra };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(url: string, res: import('node:http').ServerResponse): void {
    const path = new URL(url, this.origin).pathname;
    const isDiscovery = path.endsWith('/.well-known/openid-configuration');
    const isJwks = path === '/keys';
    if (isDiscovery) this.hits.discovery++;
    else if (isJwks) this.hits.jwks++;
    else this.hits.other++;
    if (this.mode === 'hang') return; // never answers; the client's deadline must fire
    if (this.mode === 'down') {
      res.writeHead(503).end();
      return;
    }
    if (this.mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{not json');
      return;
    }
    if (this.mode === 'huge') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [], pad: 'x'.repeat(200 * 1024) }));
      return;
    }
    if (isDiscovery) {
      const prefix = path.slice(0, -'/.well-known/openid-configuration'.length);
      const issuer = this.discoveryIssuers.get(prefix) ?? this.options.discoveryIssuer ?? this.issuer;
      const body = { issuer, jwks_uri: this.jwksUri, token_endpoint: `${issuer}/token` };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } else if (isJwks) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.jwks()));
    } else {
      res.writeHead(404).end();
    }
  }
}

export async function newRsaKey(kid?: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = rsaKeyPair();
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const id = kid ?? (await calculateJwkThumbprint(jwk));
  return { kid: id, privateKey, publicJwk: { ...jwk, kid: id, use: 'sig' } };
}

/** base64url of a string or object (JSON): for hand-built, forged tokens. */
export function b64u(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}
