/**
 * Entra on-behalf-of grants and `app` identities (an app registration whose federated credential is
 * tokex's managed identity), with the real OnBehalfOfCredential, ClientAssertionCredential and
 * ManagedIdentityCredential in this process, against the HTTPS Entra token endpoint fake, the
 * managed-identity fake and the Key Vault fake. The downstream deadline is shortened and the failure
 * backoff off, so a hang takes a second and a half and recovery is immediate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CLIENT_ID, FakeEntra, TENANT_A } from '../../fakes/entra.js';
import { FakeEntraTokenEndpoint } from '../../fakes/entra-token-endpoint.js';
import { FakeKeyVault } from '../../fakes/key-vault.js';
import { FakeManagedIdentity, type FaultMode, TOKEN_EXCHANGE_AUDIENCE } from '../../fakes/managed-identity.js';
import { rsaKeyPair } from '../../fakes/rsa-keys.js';
import { throwawayTls } from '../../fakes/tls.js';
import { InProcessTokex } from '../../helpers/in-process.js';
import { exchangeForm, JWT_TYPE } from '../../helpers/local-host.js';
import { tokexCommand } from '../../helpers/tokex-command.js';

/** The tokex API's app registration is the OBO app (user tokens for tokex are its assertions); two more apps for secret and certificate. */
const SECRET_APP = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd';
const CERT_APP = 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee';
const PLAIN_APP = 'ffffffff-ffff-4fff-8fff-ffffffffffff';
const UAMI_CLIENT = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const MISFEDERATED_APP = '99999999-9999-4999-8999-999999999999';
const FAULTS = ['429', '500', 'hang'] as const;

let entra: FakeEntra;
let endpoint: FakeEntraTokenEndpoint;
let mi: FakeManagedIdentity;
let vault: FakeKeyVault;
let tokex: InProcessTokex;
const DEADLINE_MS = 1_500;
const secret = `obo-secret-${Date.now()}`;

function policy(): string {
  const faults = FAULTS.map((f) => `      - { entra: "https://obo-fault-${f}.example", identity: api, onBehalfOf: true }`).join('\n');
  return `
issuers:
  - name: corp
    kind: entra
    issuer: "${entra.v2(TENANT_A)}"
    audience: [${API_CLIENT_ID}, ${SECRET_APP}, "api://${CERT_APP}", ${PLAIN_APP}]
    jwksUri: "${entra.origin}/keys"
identities:
  api: { type: app, tenantId: ${TENANT_A}, clientId: ${API_CLIENT_ID} }
  plain: { type: app, tenantId: ${TENANT_A}, clientId: ${PLAIN_APP}, managedIdentityClientId: ${UAMI_CLIENT} }
  misfederated: { type: app, tenantId: ${TENANT_A}, clientId: ${MISFEDERATED_APP} }
  api-secret: { type: service-principal, tenantId: ${TENANT_A}, clientId: ${SECRET_APP}, clientSecret: kv:api-secret }
  api-cert: { type: service-principal, tenantId: ${TENANT_A}, clientId: ${CERT_APP}, certificate: kv:api-cert }
rules:
  - name: people
    when: { issuer: corp, claims: { scp: "*access_as_user*" } }
    grant:
      - { entra: "https://ml.azure.com", identity: api, onBehalfOf: true }
      - { entra: "https://storage.azure.com", identity: api-secret, onBehalfOf: true }
      - { entra: "https://database.windows.net", identity: api-cert, onBehalfOf: true }
      - { entra: "https://consent.example", identity: api, onBehalfOf: true }
${faults}
  - name: apps
    when: { issuer: corp, claims: { roles: Jobs.Train } }
    grant:
      - { entra: "https://ml.azure.com", identity: api, onBehalfOf: true }
      - { entra: "https://management.azure.com", identity: plain }
      - { entra: "https://misfederated.example", identity: misfederated }
  - name: people-via-portal
    when: { issuer: corp, claims: { scp: "*access_as_user*" }, actor: { issuer: corp, claims: { roles: Portal.Act } } }
    grant:
      - { entra: "https://ml.azure.com", identity: api, onBehalfOf: true }
`;
}

function certificatePem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-obocert-'));
  // An RSA key of the fakes' (cheaper than a new one); openssl only certifies it.
  writeFileSync(join(dir, 'key.pem'), rsaKeyPair().privateKey.export({ type: 'pkcs8', format: 'pem' }));
  execFileSync('openssl', ['req', '-x509', '-key', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=api-cert'], {
    cwd: dir,
    stdio: 'pipe',
  });
  return readFileSync(join(dir, 'key.pem'), 'utf8') + readFileSync(join(dir, 'cert.pem'), 'utf8');
}

beforeAll(async () => {
  [entra, endpoint, mi, vault] = await Promise.all([FakeEntra.start(), FakeEntraTokenEndpoint.start(), FakeManagedIdentity.start(), FakeKeyVault.start()]);
  endpoint.userKeys = createLocalJWKSet(entra.idp.jwks());
  // The app registrations trust tokex's managed identities as federated credentials.
  const credential = (principal: string) => ({
    issuer: mi.assertionIssuer,
    subject: principal,
    audience: TOKEN_EXCHANGE_AUDIENCE,
    key: mi.assertionKey.publicKey,
  });
  endpoint.federated.set(API_CLIENT_ID, credential(mi.principalOf()));
  endpoint.federated.set(PLAIN_APP, credential(mi.principalOf(UAMI_CLIENT)));
  endpoint.federated.set(MISFEDERATED_APP, credential('another-identity'));
  endpoint.consentMissing.add('https://consent.example');
  vault.set('api-secret', secret);
  vault.set('api-cert', certificatePem());
  // Read by @azure/identity from the process environment: the managed-identity endpoint.
  Object.assign(process.env, mi.env());
  tokex = await InProcessTokex.start(
    policy(),
    { KEY_VAULT_URL: vault.url, AZURE_AUTHORITY_HOST: endpoint.authorityHost },
    { downstreamDeadlineMs: DEADLINE_MS, failureBackoffMs: 0 },
  );
}, 60_000);

afterAll(async () => {
  await tokex?.stop();
  await Promise.all([entra?.close(), endpoint?.close(), mi?.close(), vault?.close()]);
});

const user = (extra: Record<string, unknown> = {}) => entra.user(TENANT_A, extra);

function exchange(subject: string, resource: string, extra: Record<string, string> = {}) {
  return tokex.exchange(exchangeForm(subject, { resource, ...extra }));
}

describe('on-behalf-of with an app identity (federated credential, no secret)', () => {
  it("a user's token for tokex becomes a token for ml.azure.com for the same user; the fake saw one OBO call", async () => {
    const subject = await user();
    const { oid, tid } = decodeJwt(subject);
    const before = endpoint.requests.length;
    const { status, body, audit } = await exchange(subject, 'https://ml.azure.com');
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'https://ml.azure.com/.default' });
    expect(body.expires_in).toBeGreaterThan(3500);
    expect(decodeJwt(body.access_token as string)).toMatchObject({ oid, tid, aud: 'https://ml.azure.com', azp: API_CLIENT_ID, scp: 'user_impersonation' });
    const calls = endpoint.requests.slice(before);
    expect(calls).toEqual([
      expect.objectContaining({
        grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        requestedTokenUse: 'on_behalf_of',
        clientId: API_CLIENT_ID,
        clientAuth: `federated:${mi.principalOf()}`,
        user: { tid, oid },
        status: 200,
      }),
    ]);
    expect(calls[0]!.scope.split(' ')).toContain('https://ml.azure.com/.default');
    expect(mi.count(TOKEN_EXCHANGE_AUDIENCE)).toBeGreaterThanOrEqual(1);
    expect(audit).toMatchObject({
      outcome: 'granted',
      rule: 'people',
      caller: { objectId: oid, tenantId: tid, kind: 'user' },
      grant: { kind: 'entra', identity: 'api', onBehalfOf: true, scopes: ['https://ml.azure.com/.default'] },
    });
  });

  it('cached per user: the same user again makes no call; another user gets their own token', async () => {
    const oid = '12121212-1212-4121-8121-121212121212';
    const first = await exchange(await user({ oid }), 'https://ml.azure.com');
    const obo = endpoint.requestsOf('on_behalf_of').length;
    const again = await exchange(await user({ oid }), 'https://ml.azure.com');
    expect(again.body.access_token).toBe(first.body.access_token);
    expect(endpoint.requestsOf('on_behalf_of').length).toBe(obo);
    const other = await exchange(await user(), 'https://ml.azure.com');
    expect(other.status).toBe(200);
    expect(other.body.access_token).not.toBe(first.body.access_token);
    expect(decodeJwt(other.body.access_token as string).oid).not.toBe(oid);
    expect(endpoint.requestsOf('on_behalf_of').length).toBe(obo + 1);
  });

  it('16 concurrent first requests of one user: one OBO call', async () => {
    const oid = '34343434-3434-4343-8343-343434343434';
    endpoint.delayMs = 300;
    const tokens = await Promise.all(Array.from({ length: 16 }, () => user({ oid })));
    const before = endpoint.requestsOf('on_behalf_of').length;
    const results = await Promise.all(tokens.map((t) => tokex.exchange(exchangeForm(t, { resource: 'https://ml.azure.com' }))));
    endpoint.delayMs = 0;
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(200));
    expect(new Set(results.map((r) => r.body.access_token)).size).toBe(1);
    expect(endpoint.requestsOf('on_behalf_of').length - before).toBe(1);
  });

  it('a delegated OBO exchange: the audit records the user and the actor', async () => {
    const subject = await user();
    const actor = await entra.app(TENANT_A, { roles: ['Portal.Act'] });
    const { status, body, audit } = await exchange(subject, 'https://ml.azure.com', { actor_token: actor, actor_token_type: JWT_TYPE });
    expect(status).toBe(200);
    expect(decodeJwt(body.access_token as string).oid).toBe(decodeJwt(subject).oid);
    expect(audit).toMatchObject({
      rule: 'people-via-portal',
      caller: { objectId: decodeJwt(subject).oid, kind: 'user' },
      actor: { objectId: decodeJwt(actor).oid, kind: 'app' },
      grant: { onBehalfOf: true, identity: 'api' },
    });
  });
});

describe('on-behalf-of with a service principal', () => {
  it('client secret from Key Vault', async () => {
    const { status, body } = await exchange(await user({ aud: SECRET_APP }), 'https://storage.azure.com');
    expect(status).toBe(200);
    expect(decodeJwt(body.access_token as string).azp).toBe(SECRET_APP);
    expect(endpoint.requestsOf('on_behalf_of', SECRET_APP).at(-1)).toMatchObject({ clientAuth: 'secret', status: 200 });
  });

  it('certificate from Key Vault (aud api://<clientId>): a PS256 client assertion, the key never on disk', async () => {
    const { status } = await exchange(await user({ aud: `api://${CERT_APP}` }), 'https://database.windows.net');
    expect(status).toBe(200);
    expect(endpoint.requestsOf('on_behalf_of', CERT_APP).at(-1)).toMatchObject({ clientAuth: 'certificate', status: 200 });
    expect(endpoint.authentications).toContain('assertion:PS256');
  });
});

describe('checks before calling Entra: 400 obo_refused and no call', () => {
  it('an app token (no user)', async () => {
    const before = endpoint.requests.length;
    const { status, body, audit } = await exchange(await entra.app(), 'https://ml.azure.com');
    expect([status, body.error, audit.reason]).toEqual([400, 'invalid_request', 'obo_refused']);
    expect(audit.detail).toMatch(/of kind app; on-behalf-of needs a user token/);
    expect(endpoint.requests.length).toBe(before);
  });

  it("a user token for another of the API's audiences than the OBO app", async () => {
    const before = endpoint.requests.length;
    const { status, audit } = await exchange(await user({ aud: SECRET_APP }), 'https://ml.azure.com');
    expect([status, audit.reason]).toEqual([400, 'obo_refused']);
    expect(audit.detail).toContain(`"aud" is "${SECRET_APP}"`);
    expect(endpoint.requests.length).toBe(before);
  });
});

describe('tokex policy explain runs the same checks', () => {
  /** `tokex policy explain`, run in this process. */
  const explain = async (token: string, target: string) => {
    const { code, stdout } = await tokexCommand(['policy', 'explain', join(tokex.dir, 'policy.yaml'), '--token', token, '--target', target], {
      cwd: tokex.dir,
    });
    return { code, out: stdout };
  };

  it('an OBO grant for a user token for the app; obo_refused for an app token', async () => {
    const [ok, refused] = await Promise.all([explain(await user(), 'https://ml.azure.com'), explain(await entra.app(), 'https://ml.azure.com')]);
    expect([ok.code, ok.out]).toEqual([0, expect.stringContaining('Entra token as identity api on behalf of the user')]);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/reason obo_refused: the subject token is of kind app; on-behalf-of needs a user token/);
  });
});

describe('Entra faults', () => {
  it('OBO 400 invalid_grant (consent missing) → 400 invalid_request, reason obo_refused', async () => {
    const { status, headers, body, audit } = await exchange(await user(), 'https://consent.example');
    expect([status, body.error, audit.reason, audit.outcome]).toEqual([400, 'invalid_request', 'obo_refused', 'denied']);
    expect(headers.get('retry-after')).toBeNull();
    expect(endpoint.requestsOf('on_behalf_of').at(-1)).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect(audit.detail).toMatch(/^Entra refused the on-behalf-of exchange: \w+ invalid_grant$/);
    // No user token, issued token or Entra message anywhere tokex wrote.
    const out = tokex.output();
    expect(out).not.toMatch(/AADSTS/);
    for (const token of endpoint.issued) expect(out).not.toContain(token);
    expect(JSON.stringify(audit)).not.toMatch(/AADSTS|eyJ/);
  });
});

// Each fault is set for its own resource, so the cases run side by side (each waits out the deadline).
describe.concurrent('Entra faults on the OBO call', () => {
  for (const fault of FAULTS) {
    it(`OBO answering ${fault} → 503 + Retry-After within the deadline, then recovery`, async ({ expect }) => {
      const resource = `https://obo-fault-${fault}.example`;
      const asked = () => endpoint.requestsOf('on_behalf_of').filter((r) => r.scope.split(' ').includes(`${resource}/.default`)).length;
      const oid = `56565656-5656-4565-8565-56565656565${FAULTS.indexOf(fault)}`;
      endpoint.faults.set(resource, fault as FaultMode);
      const { status, headers, body, audit } = await exchange(await user({ oid }), resource);
      expect([status, body.error, audit.reason, audit.outcome]).toEqual([503, 'temporarily_unavailable', 'downstream_unavailable', 'failed']);
      expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      endpoint.faults.delete(resource);
      expect(asked()).toBeGreaterThan(0);
      expect((await exchange(await user({ oid }), resource)).status).toBe(200);
    });
  }
});

describe('an app identity for a plain entra grant', () => {
  it("client credentials with a user-assigned managed identity's token as the federated assertion", async () => {
    const { status, body } = await exchange(await entra.app(), 'https://management.azure.com');
    expect(status).toBe(200);
    expect(endpoint.issued).toContain(body.access_token);
    expect(endpoint.requestsOf('client_credentials', PLAIN_APP).at(-1)).toMatchObject({ clientAuth: `federated:${mi.principalOf(UAMI_CLIENT)}`, status: 200 });
    expect(mi.count(TOKEN_EXCHANGE_AUDIENCE, UAMI_CLIENT)).toBe(1);
  });

  it('an app registration whose federated credential names another identity: Entra says invalid_client, the caller gets 503', async () => {
    const { status, headers, audit } = await exchange(await entra.app(), 'https://misfederated.example');
    expect([status, audit.reason]).toEqual([503, 'downstream_unavailable']);
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(endpoint.requestsOf('client_credentials', MISFEDERATED_APP).at(-1)).toMatchObject({ status: 401, error: 'invalid_client' });
  });
});

describe('the Entra token endpoint fake checks what Entra checks', () => {
  /** POST a form to the fake's token endpoint over HTTPS, trusting the throwaway CA. */
  const post = (form: Record<string, string>) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = request(
        `${endpoint.authorityHost}/${TENANT_A}/oauth2/v2.0/token`,
        { method: 'POST', ca: throwawayTls().ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      req.end(new URLSearchParams(form).toString());
    });
  const obo = async (extra: Record<string, string> = {}) => ({
    client_id: SECRET_APP,
    client_secret: 's',
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    requested_token_use: 'on_behalf_of',
    assertion: await user({ aud: SECRET_APP }),
    scope: 'https://ml.azure.com/.default openid profile offline_access',
    ...extra,
  });

  it("on-behalf-of: requested_token_use, a user assertion for this client signed by the user's issuer, a .default scope", async () => {
    expect((await post(await obo())).status).toBe(200);
    expect((await post(await obo({ requested_token_use: 'something' }))).body.error).toBe('invalid_request');
    expect((await post(await obo({ assertion: await user() }))).body.error).toBe('invalid_grant');
    expect((await post(await obo({ assertion: await entra.app(TENANT_A, { aud: SECRET_APP }) }))).body.error).toBe('invalid_grant');
    const forged = (await user({ aud: SECRET_APP })).replace(/\.[^.]+$/, '.AAAA');
    expect((await post(await obo({ assertion: forged }))).body.error).toBe('invalid_grant');
    expect((await post(await obo({ scope: 'openid profile' }))).body.error).toBe('invalid_scope');
  });

  it("client assertions: the assertion type, and the federated credential's issuer, subject and audience", async () => {
    const assertion = await fetchMiAssertion();
    const base = { client_id: API_CLIENT_ID, grant_type: 'client_credentials', scope: 'https://x.example/.default', client_assertion: assertion };
    expect((await post({ ...base, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' })).status).toBe(200);
    expect((await post({ ...base, client_assertion_type: 'urn:x' })).body.error).toBe('invalid_request');
    expect((await post({ ...base, client_id: PLAIN_APP, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' })).body.error).toBe(
      'invalid_client',
    );
  });
});

/** The system-assigned managed identity's token for the token-exchange audience, straight from the fake. */
async function fetchMiAssertion(): Promise<string> {
  const res = await fetch(`${mi.endpoint}?api-version=2019-08-01&resource=${encodeURIComponent(TOKEN_EXCHANGE_AUDIENCE)}`, {
    headers: { 'x-identity-header': mi.header },
  });
  return ((await res.json()) as { access_token: string }).access_token;
}
