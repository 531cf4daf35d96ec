import type { KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { rsaKeyPair } from './rsa-keys.js';

export type FaultMode = 'ok' | '404' | '429' | '500' | 'hang';

/** The audience of managed-identity tokens that app registrations trust as federated credentials. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
/** The system-assigned identity's principal (object) id: the `sub` of its tokens. */
export const SYSTEM_PRINCIPAL_ID = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const MI_TENANT = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';

/**
 * The App Service managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER) as
 * ManagedIdentityCredential calls it: GET ?api-version=2019-08-01&resource=…[&client_id=…].
 */
export class FakeManagedIdentity {
  readonly header = `fake-identity-header-${process.pid}`;
  /** Calls per `resource|client_id`. */
  readonly calls = new Map<string, number>();
  /** Every token handed out, so tests can look for them in logs. */
  readonly issued: string[] = [];
  /** The resource each handed-out token was for. */
  readonly issuedFor = new Map<string, string>();
  mode: FaultMode = 'ok';
  /** A fault for one resource only, so fault tests can run side by side; wins over `mode`. */
  readonly faults = new Map<string, FaultMode>();
  /** Lifetime of issued tokens. */
  expiresInSeconds = 3600;
  /** Delay before answering, to let concurrent requests pile up. */
  delayMs = 0;
  /**
   * Tokens for a federated-credential audience (api://AzureADTokenExchange, or any listed here)
   * are JWTs as Entra issues them to a managed identity: `iss` the tenant's v2 issuer, `sub` the
   * identity's principal id, `aud` the audience; signed with `assertionKey`.
   */
  readonly assertionAudiences = new Set([TOKEN_EXCHANGE_AUDIENCE]);
  readonly assertionIssuer = `https://login.microsoftonline.com/${MI_TENANT}/v2.0`;
  readonly assertionKey: { privateKey: KeyObject; publicKey: KeyObject } = rsaKeyPair();

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly issue: ((resource: string) => Promise<string>) | undefined,
  ) {}

  /**
   * `issue` makes the tokens (default: opaque `mi-token-…` strings): a caller's managed identity
   * asking for tokex's API gets a JWT from a fake issuer instead.
   */
  static async start(options: { issue?: (resource: string) => Promise<string> } = {}): Promise<FakeManagedIdentity> {
    let self: FakeManagedIdentity | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeManagedIdentity(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`, options.issue);
    return self;
  }

  /** Settings that point @azure/identity at this fake. */
  env(): Record<string, string> {
    return { IDENTITY_ENDPOINT: this.endpoint, IDENTITY_HEADER: this.header };
  }

  /** The principal id (the `sub` of its tokens) of the system-assigned identity, or of a user-assigned one by client id. */
  principalOf(clientId?: string): string {
    return clientId ? `principal-of-${clientId}` : SYSTEM_PRINCIPAL_ID;
  }

  count(resource: string, clientId = ''): number {
    return this.calls.get(`${resource}|${clientId}`) ?? 0;
  }

  get total(): number {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers['x-identity-header'] !== this.header) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"missing header"}');
      return;
    }
    const resource = url.searchParams.get('resource') ?? '';
    const key = `${resource}|${url.searchParams.get('client_id') ?? ''}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const mode = this.faults.get(resource) ?? this.mode;
    if (mode === 'hang') return;
    if (mode !== 'ok') {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (mode === '429') headers['retry-after'] = '1';
      res.writeHead(Number(mode), headers).end(JSON.stringify({ error: 'fault', error_description: `injected ${mode}` }));
      return;
    }
    const expiresOn = Math.floor(Date.now() / 1000) + this.expiresInSeconds;
    const token = this.assertionAudiences.has(resource)
      ? await new SignJWT({ tid: MI_TENANT, oid: this.principalOf(url.searchParams.get('client_id') ?? undefined) })
          .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
          .setIssuer(this.assertionIssuer)
          .setSubject(this.principalOf(url.searchParams.get('client_id') ?? undefined))
          .setAudience(resource)
          .setIssuedAt()
          .setExpirationTime(expiresOn)
          .sign(this.assertionKey.privateKey)
      : this.issue
        ? await this.issue(resource)
        : `mi-token-${this.issued.length}-${Math.random().toString(36).slice(2)}`;
    this.issued.push(token);
    this.issuedFor.set(token, resource);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: token, expires_on: String(expiresOn), resource, token_type: 'Bearer' }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
