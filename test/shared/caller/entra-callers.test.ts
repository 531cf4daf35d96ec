/**
 * Entra ID callers, as each of the four workflows' tokens come from Entra, validated by the core (in
 * this process) with the keys it finds by OIDC discovery at the Entra fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CLIENT_ID, CLIENT_APP_ID, entraPolicy, FakeEntra, MI_CLIENT_ID, TENANT_A, TENANT_B, TENANT_C } from '../../fakes/entra.js';
import { InProcessTokex } from '../../helpers/in-process.js';
import { exchangeForm } from '../../helpers/local-host.js';

let entra: FakeEntra;
let tokex: InProcessTokex;
beforeAll(async () => {
  entra = await FakeEntra.start();
  // Keys found by OIDC discovery, as in production: v2, v1 (sts) and the multi-tenant `common` document.
  tokex = await InProcessTokex.start(entraPolicy(entra, { discovery: true }));
});
afterAll(async () => {
  await tokex?.stop();
  await entra?.close();
});

const exchange = (subject: string, audience = 'https://workspace.internal') => tokex.exchange(exchangeForm(subject, { audience }));

describe('the four caller workflows, as Entra shapes their tokens', () => {
  it('a service principal (client credentials, v2) is an app caller identified by tid+oid', async () => {
    const { status, body, audit } = await exchange(await entra.app(TENANT_A));
    expect(status).toBe(200);
    expect(body.scope).toBe('jobs.submit data.read');
    expect(audit).toMatchObject({ rule: 'training-apps', caller: { kind: 'app', tenantId: TENANT_A, appId: CLIENT_APP_ID, issuer: entra.v2(TENANT_A) } });
    expect(audit.caller?.objectId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an interactive user or Azure CLI session (delegated, scp) is a user caller', async () => {
    const { status, body, audit } = await exchange(await entra.user(TENANT_A));
    expect(status).toBe(200);
    expect(body.scope).toBe('data.read');
    expect(audit).toMatchObject({ rule: 'people', caller: { kind: 'user', tenantId: TENANT_A } });
  });

  it('a managed identity is labelled managed-identity (xms_mirid) and authorized like any app', async () => {
    const { status, audit } = await exchange(await entra.managedIdentity(TENANT_A));
    expect(status).toBe(200);
    expect(audit).toMatchObject({ rule: 'training-apps', caller: { kind: 'managed-identity', appId: MI_CLIENT_ID } });
  });

  it('a v1 token (sts issuer, App ID URI audience, appid) matches the v1 entry', async () => {
    const { status, body, audit } = await exchange(await entra.v1App(TENANT_A));
    expect(status).toBe(200);
    expect(body.scope).toBe('jobs.submit');
    expect(audit).toMatchObject({ rule: 'training-apps-v1', caller: { kind: 'app', appId: CLIENT_APP_ID, issuer: entra.v1(TENANT_A) } });
  });

  it('a v1 token may carry the API GUID as aud when the entry lists it', async () => {
    expect((await exchange(await entra.v1App(TENANT_A, { aud: API_CLIENT_ID }))).status).toBe(200);
  });
});

describe('tenants', () => {
  it('a multi-tenant {tenantid} entry accepts a listed tenant', async () => {
    const { status, audit } = await exchange(await entra.app(TENANT_B), 'https://partner.internal');
    expect(status).toBe(200);
    expect(audit).toMatchObject({ rule: 'partner-apps', caller: { tenantId: TENANT_B, issuer: entra.v2(TENANT_B) } });
  });

  it('refuses a tenant not on the list (tenant_not_allowed), naming the caller in the audit', async () => {
    const { status, body, audit } = await exchange(await entra.app(TENANT_C), 'https://partner.internal');
    expect([status, body.error, audit.reason]).toEqual([400, 'invalid_request', 'tenant_not_allowed']);
    expect(audit.caller?.tenantId).toBe(TENANT_C);
  });

  it("a single-tenant token with another tenant's tid is refused (wrong_issuer)", async () => {
    const { audit } = await exchange(await entra.app(TENANT_A, { tid: TENANT_B }));
    expect(audit.reason).toBe('wrong_issuer');
  });
});

describe('key–issuer binding (Entra JWKS "issuer" member)', () => {
  it('a key bound to the {tenantid} template signs for any tenant', async () => {
    expect((await exchange(await entra.app(TENANT_A, {}, { key: entra.key('kT') }))).status).toBe(200);
  });

  it('a key bound to tenant B signs for tenant B', async () => {
    expect((await exchange(await entra.app(TENANT_B, {}, { key: entra.key('kB') }), 'https://partner.internal')).status).toBe(200);
  });

  it('a key bound to tenant B cannot vouch for tenant A (wrong_issuer)', async () => {
    const { status, audit } = await exchange(await entra.app(TENANT_A, {}, { key: entra.key('kB') }));
    expect([status, audit.reason]).toEqual([400, 'wrong_issuer']);
  });
});

describe('tokens that are not access tokens for tokex', () => {
  it('an ID token (no scp, no roles) is refused (missing_claim)', async () => {
    const { status, audit } = await exchange(await entra.idToken(TENANT_A));
    expect([status, audit.reason]).toEqual([400, 'missing_claim']);
  });

  it('a token without tid from an Entra issuer is refused (missing_claim)', async () => {
    expect((await exchange(await entra.app(TENANT_A, { tid: undefined }))).audit.reason).toBe('missing_claim');
  });
});

it('discovery: one document and one JWKS fetch per issuer, however many tokens and in whatever order', async () => {
  // corp (v2 A), corp-v1 (sts A), partners (common): each issuer entry locates its keys once and
  // caches them. Two rounds of one token per issuer: the second round fetches nothing.
  for (let round = 0; round < 2; round++) {
    expect((await exchange(await entra.app(TENANT_A))).status).toBe(200);
    expect((await exchange(await entra.v1App(TENANT_A))).status).toBe(200);
    expect((await exchange(await entra.app(TENANT_B), 'https://partner.internal')).status).toBe(200);
  }
  expect(entra.idp.hits.discovery).toBe(3);
  expect(entra.idp.hits.jwks).toBe(3);
});
