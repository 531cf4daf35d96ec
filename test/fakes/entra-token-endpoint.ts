import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { FaultMode } from './managed-identity.js';
import { throwawayTls } from './tls.js';

/**
 * Entra ID's v2 token endpoint over HTTPS, for service principals: OIDC metadata per tenant and
 * client-credentials grants with a client secret or a client assertion (certificate).
 */
export class FakeEntraTokenEndpoint {
  /** Token requests per client id. */
  readonly calls = new Map<string, number>();
  /** What each client authenticated with: `secret:<value>` or `assertion:<alg>`. */
  readonly authentications: string[] = [];
  readonly issued: string[] = [];
  mode: FaultMode = 'ok';

  private constructor(private readonly server: Server, readonly authorityHost: string) {}

  static async start(): Promise<FakeEntraTokenEndpoint> {
    const tls = throwawayTls();
    let self: FakeEntraTokenEndpoint | undefined;
    const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => void self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeEntraTokenEndpoint(server, `https://localhost:${(server.address() as AddressInfo).port}`);
    return self;
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.authorityHost);
    const tenant = url.pathname.split('/')[1] ?? '';
    if (req.method === 'GET' && url.pathname.endsWith('/v2.0/.well-known/openid-configuration')) {
      const base = `${this.authorityHost}/${tenant}`;
      return this.json(res, 200, {
        issuer: `${base}/v2.0`, token_endpoint: `${base}/oauth2/v2.0/token`, authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        jwks_uri: `${base}/discovery/v2.0/keys`, response_types_supported: ['code'], subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (req.method === 'POST' && url.pathname.endsWith('/oauth2/v2.0/token')) {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      const clientId = form.get('client_id') ?? '';
      this.calls.set(clientId, (this.calls.get(clientId) ?? 0) + 1);
      const assertion = form.get('client_assertion');
      if (assertion) {
        const claims = decodeJwt(assertion);
        if (claims.aud !== `${this.authorityHost}/${tenant}/oauth2/v2.0/token`) return this.json(res, 401, { error: 'invalid_client' });
        this.authentications.push(`assertion:${decodeProtectedHeader(assertion).alg}`);
      } else {
        this.authentications.push(`secret:${form.get('client_secret')}`);
      }
      if (this.mode === 'hang') return;
      if (this.mode !== 'ok') return this.json(res, Number(this.mode), { error: 'temporarily_unavailable', error_description: `injected ${this.mode}` }, this.mode === '429' ? { 'retry-after': '1' } : {});
      const token = `sp-token-${this.issued.length}-${Math.random().toString(36).slice(2)}`;
      this.issued.push(token);
      return this.json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
    }
    this.json(res, 404, { error: 'not_found' });
  }

  private json(res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
