import { type KeyObject, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';
import type { FaultMode } from './managed-identity.js';
import { rsaKeyPair } from './rsa-keys.js';
import { throwawayTls } from './tls.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An app registration's federated credential: whose tokens it accepts as client assertions. */
export interface FederatedCredential {
  readonly issuer: string;
  readonly subject: string;
  readonly audience: string;
  /** The key the issuer signs with (the managed-identity fake's). */
  readonly key: KeyObject;
}

/** One request to the token endpoint, as a test reads it. Never holds a secret or token. */
export interface TokenRequest {
  readonly tenant: string;
  readonly grantType: string;
  readonly clientId: string;
  readonly scope: string;
  /** `secret`, `certificate` or `federated:<sub of the assertion>`. */
  readonly clientAuth: string;
  readonly requestedTokenUse?: string;
  /** On-behalf-of: the user of the assertion. */
  readonly user?: { readonly tid: unknown; readonly oid: unknown };
  /** What the fake answered. */
  status: number;
  error?: string;
}

/**
 * Entra ID's v2 token endpoint over HTTPS: OIDC metadata per tenant; client credentials with a
 * client secret, a certificate assertion or a federated credential's assertion (a managed
 * identity's token); and on-behalf-of (`jwt-bearer`, `requested_token_use=on_behalf_of`), checking
 * the user assertion as Entra does and issuing a token for the same user (their `oid`, `tid`, `scp`).
 */
export class FakeEntraTokenEndpoint {
  /** Token requests per client id. */
  readonly calls = new Map<string, number>();
  /** What each client authenticated with: `secret:<value>` or `assertion:<alg>`. */
  readonly authentications: string[] = [];
  readonly issued: string[] = [];
  /** Every request, in order. */
  readonly requests: TokenRequest[] = [];
  /** Federated credentials by client id (app registrations that trust a managed identity). */
  readonly federated = new Map<string, FederatedCredential>();
  /** Keys of the issuer of user tokens (the user assertions of on-behalf-of requests). */
  userKeys: JWTVerifyGetKey | undefined;
  /** Resources the users have not consented to: on-behalf-of answers invalid_grant (AADSTS65001). */
  readonly consentMissing = new Set<string>();
  mode: FaultMode = 'ok';
  /** A fault for requests whose scope names this resource only (fault tests side by side); wins over `mode`. */
  readonly faults = new Map<string, FaultMode>();
  /** Lifetime of issued tokens. */
  expiresInSeconds = 3599;
  /** Delay before answering, to let concurrent requests pile up. */
  delayMs = 0;
  /** Signs the tokens it issues for on-behalf-of, so tests can read their claims. */
  readonly signingKey = rsaKeyPair().privateKey;

  private constructor(
    private readonly server: Server,
    readonly authorityHost: string,
  ) {}

  static async start(): Promise<FakeEntraTokenEndpoint> {
    const tls = throwawayTls();
    let self: FakeEntraTokenEndpoint | undefined;
    const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => void self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeEntraTokenEndpoint(server, `https://localhost:${(server.address() as AddressInfo).port}`);
    return self;
  }

  /** Requests of one grant type (`client_credentials`, or `on_behalf_of` for jwt-bearer OBO). */
  requestsOf(kind: 'client_credentials' | 'on_behalf_of', clientId?: string): TokenRequest[] {
    return this.requests.filter(
      (r) => (kind === 'on_behalf_of' ? r.requestedTokenUse === 'on_behalf_of' : r.grantType === kind) && (clientId === undefined || r.clientId === clientId),
    );
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.authorityHost);
    const tenant = url.pathname.split('/')[1] ?? '';
    if (req.method === 'GET' && url.pathname.endsWith('/v2.0/.well-known/openid-configuration')) {
      const base = `${this.authorityHost}/${tenant}`;
      return this.json(res, 200, {
        issuer: `${base}/v2.0`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_types_supported: ['code'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (req.method === 'POST' && url.pathname.endsWith('/oauth2/v2.0/token')) {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      const clientId = form.get('client_id') ?? '';
      this.calls.set(clientId, (this.calls.get(clientId) ?? 0) + 1);
      const request: TokenRequest = {
        tenant,
        grantType: form.get('grant_type') ?? '',
        clientId,
        scope: form.get('scope') ?? '',
        clientAuth: 'none',
        ...(form.get('requested_token_use') !== null && { requestedTokenUse: form.get('requested_token_use')! }),
        status: 0,
      };
      this.requests.push(request);
      const answer = (status: number, payload: Record<string, unknown>, headers: Record<string, string> = {}) => {
        request.status = status;
        if (typeof payload.error === 'string') request.error = payload.error;
        this.json(res, status, payload, headers);
      };

      const clientAuth = await this.authenticate(form, tenant);
      if ('error' in clientAuth) return answer(clientAuth.status, { error: clientAuth.error, error_description: clientAuth.description });
      (request as { clientAuth: string }).clientAuth = clientAuth.method;

      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const mode = this.faults.get(request.scope.split(' ')[0]!.replace(/\/\.default$/, '')) ?? this.mode;
      if (mode === 'hang') return;
      if (mode !== 'ok')
        return answer(Number(mode), { error: 'temporarily_unavailable', error_description: `injected ${mode}` }, mode === '429' ? { 'retry-after': '1' } : {});

      if (request.grantType === 'client_credentials') {
        const token = `sp-token-${this.issued.length}-${Math.random().toString(36).slice(2)}`;
        this.issued.push(token);
        return answer(200, { token_type: 'Bearer', expires_in: this.expiresInSeconds, ext_expires_in: this.expiresInSeconds, access_token: token });
      }
      if (request.grantType === JWT_BEARER) return this.onBehalfOf(form, tenant, clientId, request, answer);
      return answer(400, { error: 'unsupported_grant_type', error_description: 'AADSTS70003: unsupported grant type' });
    }
    this.json(res, 404, { error: 'not_found' });
  }

  /** Client authentication: a secret, or a client assertion (certificate-signed, or a federated credential's token). */
  private async authenticate(form: URLSearchParams, tenant: string): Promise<{ method: string } | { status: number; error: string; description: string }> {
    const clientId = form.get('client_id') ?? '';
    const assertion = form.get('client_assertion');
    if (!assertion) {
      this.authentications.push(`secret:${form.get('client_secret')}`);
      return { method: 'secret' };
    }
    if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE)
      return { status: 400, error: 'invalid_request', description: 'AADSTS50027: client_assertion_type' };
    const federated = this.federated.get(clientId);
    if (federated) {
      // AADSTS70021: the assertion must be a token of exactly the federated credential's issuer, subject and audience.
      try {
        const { payload } = await jwtVerify(assertion, federated.key, { issuer: federated.issuer, audience: federated.audience, subject: federated.subject });
        this.authentications.push(`federated:${payload.sub}`);
        return { method: `federated:${payload.sub}` };
      } catch {
        return { status: 401, error: 'invalid_client', description: 'AADSTS70021: No matching federated identity record found for presented assertion.' };
      }
    }
    const claims = decodeJwt(assertion);
    if (claims.aud !== `${this.authorityHost}/${tenant}/oauth2/v2.0/token` || claims.iss !== clientId || claims.sub !== clientId) {
      return { status: 401, error: 'invalid_client', description: 'AADSTS700027: client assertion' };
    }
    this.authentications.push(`assertion:${decodeProtectedHeader(assertion).alg}`);
    return { method: 'certificate' };
  }

  /** On-behalf-of: the user assertion must be a user token for this client, and the user must have consented. */
  private async onBehalfOf(
    form: URLSearchParams,
    tenant: string,
    clientId: string,
    request: TokenRequest,
    answer: (status: number, payload: Record<string, unknown>) => void,
  ): Promise<void> {
    const invalidGrant = (description: string) =>
      answer(400, { error: 'invalid_grant', error_description: description, error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1])] });
    if (form.get('requested_token_use') !== 'on_behalf_of')
      return answer(400, { error: 'invalid_request', error_description: 'AADSTS900144: requested_token_use' });
    const assertion = form.get('assertion');
    if (!assertion) return answer(400, { error: 'invalid_request', error_description: 'AADSTS900144: assertion' });
    let user: Record<string, unknown>;
    try {
      user = this.userKeys ? (await jwtVerify(assertion, this.userKeys)).payload : decodeJwt(assertion);
    } catch {
      return invalidGrant('AADSTS50013: Assertion failed signature validation.');
    }
    (request as { user?: unknown }).user = { tid: user.tid, oid: user.oid };
    if (user.aud !== clientId && user.aud !== `api://${clientId}`) return invalidGrant('AADSTS50013: Assertion audience does not match the client app.');
    if (typeof user.scp !== 'string') return invalidGrant('AADSTS50013: Assertion is not a user token.');
    const resource = form
      .get('scope')
      ?.split(' ')
      .find((s) => s.endsWith('/.default'))
      ?.slice(0, -'/.default'.length);
    if (!resource) return answer(400, { error: 'invalid_scope', error_description: 'AADSTS70011: scope' });
    if (this.consentMissing.has(resource)) return invalidGrant('AADSTS65001: The user or administrator has not consented to use the application.');
    const token = await new SignJWT({ tid: user.tid, oid: user.oid, scp: 'user_impersonation', azp: clientId, ver: '2.0', name: user.name })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(`${this.authorityHost}/${tenant}/v2.0`)
      .setSubject(String(user.sub))
      .setAudience(resource)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + this.expiresInSeconds)
      .setJti(randomUUID())
      .sign(this.signingKey);
    this.issued.push(token);
    answer(200, {
      token_type: 'Bearer',
      scope: `${resource}/user_impersonation`,
      expires_in: this.expiresInSeconds,
      ext_expires_in: this.expiresInSeconds,
      access_token: token,
    });
  }

  private json(res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
