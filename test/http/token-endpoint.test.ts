import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { checkExplainAgreement } from '../helpers/explain-agreement.js';
import { ACCESS_TOKEN_TYPE, exchangeForm, JWT_TYPE, LocalTokex, TOKEN_EXCHANGE } from '../helpers/local-host.js';

let issuer: FakeIssuer;
let tokex: LocalTokex;
const WORKSPACE = 'https://workspace.internal';

function policy(iss: string): string {
  return `
issuers:
  - name: corp
    issuer: ${iss}
    audience: api://tokex
rules:
  - name: jobs
    when:
      issuer: corp
      claims:
        roles: Jobs.Train
    grant:
      - minted: ${WORKSPACE}
        scopes: [jobs.submit, data.read]
        lifetime: 15m
  - name: readers
    when: { issuer: corp, claims: { sub: "reader-*" } }
    grant:
      - minted: https://reports.internal
        scopes: [reports.read]
`;
}

const trainer = () => issuer.token({ sub: 'job-1', aud: 'api://tokex', roles: ['Jobs.Train'], azp: 'client-app' });

beforeAll(async () => {
  issuer = await FakeIssuer.start();
  tokex = await LocalTokex.start(policy(issuer.issuer));
  // Every exchange below is also put to `policy explain`, which must give the server's answer.
  await checkExplainAgreement(tokex);
});
afterAll(async () => {
  await tokex?.stop();
  await issuer?.close();
});

/** Every refusal: status, OAuth error, correlation id in header and description, and its audit reason. */
async function expectRefusal(res: Awaited<ReturnType<LocalTokex['exchange']>>, status: number, error: string, reason: string) {
  expect(res.status).toBe(status);
  expect(res.body.error).toBe(error);
  const correlationId = res.headers.get('x-correlation-id')!;
  expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
  expect(res.body.error_description).toContain(correlationId);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const record = await tokex.auditFor(correlationId);
  expect(record).toMatchObject({ event: 'token.exchange', outcome: status >= 500 ? 'failed' : 'denied', reason });
  return record;
}

describe('POST /token grants', () => {
  it('exchanges a caller token for a minted token that verifies against the JWKS', async () => {
    const subject = await trainer();
    const res = await tokex.exchange(exchangeForm(subject, { audience: WORKSPACE, scope: 'jobs.submit' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', scope: 'jobs.submit' });
    const token = res.body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const jwks = createRemoteJWKSet(new URL(`${tokex.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: tokex.env.TOKEX_ISSUER ?? `http://localhost:${tokex.env.PORT}`,
      audience: WORKSPACE,
      typ: 'at+jwt',
    });
    expect(protectedHeader.kid).toBeTruthy();
    // An oidc issuer's caller is named <issuer name>:<sub> (issue 11 item 3).
    expect(payload).toMatchObject({ sub: 'corp:job-1', client_id: 'client-app', scope: 'jobs.submit', aud: WORKSPACE });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(res.body.expires_in).toBe(900);

    const record = await tokex.auditFor(res.headers.get('x-correlation-id')!);
    expect(record).toMatchObject({
      outcome: 'granted',
      reason: 'ok',
      rule: 'jobs',
      caller: { issuer: issuer.issuer, subject: 'job-1', appId: 'client-app', kind: 'app' },
      request: { target: WORKSPACE, scopes: ['jobs.submit'] },
      grant: { kind: 'minted', scopes: ['jobs.submit'], jti: payload.jti },
    });
    expect(record.subjectTokenId).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(record.clientIp).toBe('127.0.0.1');
  });

  it('grants everything the policy allows when scope is omitted, and accepts resource= as the target', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { resource: WORKSPACE }));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('jobs.submit data.read');
  });

  it('takes the target from a <resource>/.default scope when neither resource nor audience is given', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { scope: `${WORKSPACE}/.default` }));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('jobs.submit data.read');
  });

  it('issues the jwt token type when requested', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, requested_token_type: JWT_TYPE }));
    expect(res.status).toBe(200);
    expect(res.body.issued_token_type).toBe(JWT_TYPE);
  });

  it('never issues a token that outlives the subject token', async () => {
    const subject = await issuer.token({ sub: 'job-2', aud: 'api://tokex', roles: 'Jobs.Train' }, { expiresIn: 120 });
    const res = await tokex.exchange(exchangeForm(subject, { audience: WORKSPACE }));
    expect(res.status).toBe(200);
    expect(res.body.expires_in).toBeLessThanOrEqual(120);
    expect(res.body.expires_in).toBeGreaterThan(100);
  });

  it('refuses a subject token inside the clock tolerance but past its exp (reason expired)', async () => {
    const subject = await issuer.token({ sub: 'job-3', aud: 'api://tokex', roles: 'Jobs.Train' }, { expiresIn: -30 });
    const record = await expectRefusal(await tokex.exchange(exchangeForm(subject, { audience: WORKSPACE })), 400, 'invalid_request', 'expired');
    expect(record.caller?.subject).toBe('job-3');
  });
});

describe('POST /token refusals', () => {
  it('wrong content type → invalid_request', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE }), { contentType: 'application/json' });
    await expectRefusal(res, 400, 'invalid_request', 'malformed_request');
  });

  it('missing grant_type → invalid_request', async () => {
    const { grant_type: _, ...form } = exchangeForm(await trainer(), { audience: WORKSPACE });
    await expectRefusal(await tokex.exchange(form), 400, 'invalid_request', 'malformed_request');
  });

  it('another grant type → unsupported_grant_type', async () => {
    const res = await tokex.exchange({ ...exchangeForm(await trainer(), { audience: WORKSPACE }), grant_type: 'client_credentials' });
    await expectRefusal(res, 400, 'unsupported_grant_type', 'unsupported_grant_type');
  });

  it('missing subject_token → invalid_request, recorded without a subjectTokenId or caller', async () => {
    const record = await expectRefusal(
      await tokex.exchange({ grant_type: TOKEN_EXCHANGE, subject_token_type: JWT_TYPE, audience: WORKSPACE }),
      400,
      'invalid_request',
      'malformed_request',
    );
    expect(record.subjectTokenId).toBeUndefined();
    expect(record.caller).toBeUndefined();
    expect(record.request?.target).toBe(WORKSPACE);
  });

  it('missing subject_token_type → invalid_request', async () => {
    const res = await tokex.exchange({ grant_type: TOKEN_EXCHANGE, subject_token: await trainer(), audience: WORKSPACE });
    await expectRefusal(res, 400, 'invalid_request', 'malformed_request');
  });

  it('unsupported subject_token_type → invalid_request (unsupported_token_type)', async () => {
    const res = await tokex.exchange({
      ...exchangeForm(await trainer(), { audience: WORKSPACE }),
      subject_token_type: 'urn:ietf:params:oauth:token-type:saml2',
    });
    await expectRefusal(res, 400, 'invalid_request', 'unsupported_token_type');
  });

  it('unsupported requested_token_type → invalid_request (unsupported_token_type)', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }));
    await expectRefusal(res, 400, 'invalid_request', 'unsupported_token_type');
  });

  it('both resource and audience → invalid_request', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, resource: WORKSPACE }));
    await expectRefusal(res, 400, 'invalid_request', 'malformed_request');
  });

  it('a repeated parameter → invalid_request', async () => {
    for (const name of ['audience', 'scope', 'subject_token', 'grant_type']) {
      const form = exchangeForm(await trainer(), { audience: WORKSPACE, scope: 'jobs.submit' });
      form[name] = [form[name] as string, form[name] as string];
      await expectRefusal(await tokex.exchange(form), 400, 'invalid_request', 'malformed_request');
    }
  });

  it('a resource that is not an absolute URI → invalid_target', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { resource: 'workspace.internal/x' }));
    await expectRefusal(res, 400, 'invalid_target', 'target_not_allowed');
  });

  it('no target at all → invalid_request', async () => {
    await expectRefusal(await tokex.exchange(exchangeForm(await trainer(), { scope: 'jobs.submit' })), 400, 'invalid_request', 'malformed_request');
  });

  it('an actor_token that no rule admits (no when.actor) → invalid_request (actor_not_allowed)', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, actor_token: await trainer(), actor_token_type: JWT_TYPE }));
    await expectRefusal(res, 400, 'invalid_request', 'actor_not_allowed');
  });

  it('a body over 64 KiB → 413 invalid_request', async () => {
    const res = await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, padding: 'x'.repeat(70 * 1024) }));
    await expectRefusal(res, 413, 'invalid_request', 'body_too_large');
  });

  it('a body of several MiB is refused with 413 without the host buffering it', async () => {
    const res = await tokex.exchange({ grant_type: TOKEN_EXCHANGE, padding: 'x'.repeat(8 * 1024 * 1024) });
    await expectRefusal(res, 413, 'invalid_request', 'body_too_large');
  });

  it('a subject token that is not a JWT → invalid_request (malformed_token)', async () => {
    await expectRefusal(await tokex.exchange(exchangeForm('not-a-token', { audience: WORKSPACE })), 400, 'invalid_request', 'malformed_token');
  });

  it('a subject token over 16 KiB → invalid_request (token_too_large)', async () => {
    const big = await issuer.token({ sub: 'job-1', aud: 'api://tokex', roles: 'Jobs.Train', pad: 'x'.repeat(17 * 1024) });
    await expectRefusal(await tokex.exchange(exchangeForm(big, { audience: WORKSPACE })), 400, 'invalid_request', 'token_too_large');
  });

  it('an untrusted issuer → invalid_request (unknown_issuer)', async () => {
    const other = await FakeIssuer.start();
    try {
      const res = await tokex.exchange(exchangeForm(await other.token({ sub: 'x', aud: 'api://tokex' }), { audience: WORKSPACE }));
      await expectRefusal(res, 400, 'invalid_request', 'unknown_issuer');
      expect(other.hits).toEqual({ discovery: 0, jwks: 0, other: 0 });
    } finally {
      await other.close();
    }
  });

  it('a token for another audience → invalid_request (wrong_audience)', async () => {
    const res = await tokex.exchange(exchangeForm(await issuer.token({ sub: 'job-1', aud: 'api://other', roles: 'Jobs.Train' }), { audience: WORKSPACE }));
    await expectRefusal(res, 400, 'invalid_request', 'wrong_audience');
  });

  it('a caller who matches no rule → invalid_request (no_rule), caller recorded', async () => {
    const res = await tokex.exchange(exchangeForm(await issuer.token({ sub: 'nobody', aud: 'api://tokex' }), { audience: WORKSPACE }));
    const record = await expectRefusal(res, 400, 'invalid_request', 'no_rule');
    expect(record.caller?.subject).toBe('nobody');
  });

  it('a caller with rules, none granting the target → invalid_target', async () => {
    const res = await tokex.exchange(exchangeForm(await issuer.token({ sub: 'reader-7', aud: 'api://tokex' }), { audience: WORKSPACE }));
    await expectRefusal(res, 400, 'invalid_target', 'target_not_allowed');
  });

  it('a scope beyond the grant → invalid_scope, never narrowed silently', async () => {
    await expectRefusal(
      await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, scope: 'jobs.delete' })),
      400,
      'invalid_scope',
      'scope_not_allowed',
    );
    await expectRefusal(
      await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, scope: 'jobs.submit jobs.delete' })),
      400,
      'invalid_scope',
      'scope_not_allowed',
    );
    await expectRefusal(
      await tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE, scope: 'https://reports.internal/.default' })),
      400,
      'invalid_scope',
      'scope_not_allowed',
    );
  });

  it('GET /token → 405 with Allow: POST', async () => {
    const res = await fetch(`${tokex.url}/token`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('audit', () => {
  it('writes exactly one record per request, to stdout and TOKEX_AUDIT_FILE alike', async () => {
    const before = tokex.auditRecords().length;
    const results = await Promise.all([
      tokex.exchange(exchangeForm(await trainer(), { audience: WORKSPACE })),
      tokex.exchange(exchangeForm('garbage', { audience: WORKSPACE })),
      tokex.exchange({ grant_type: 'password' }),
    ]);
    const ids = results.map((r) => r.headers.get('x-correlation-id')!);
    for (const id of ids) await tokex.auditFor(id);
    const records = tokex.auditRecords();
    expect(records.length - before).toBe(3);
    for (const id of ids) expect(records.filter((r) => r.correlationId === id)).toHaveLength(1);
    const fileIds = tokex
      .auditFile()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { correlationId: string }).correlationId);
    expect(fileIds).toEqual(records.map((r) => r.correlationId));
  });
});

describe('GET /credentials/{name} without Key Vault', () => {
  it('a bearer token over 16 KiB passes the host (64 KiB headers) and is refused by tokex: 401, audited token_too_large', async () => {
    const big = await issuer.token({ sub: 'job-1', aud: 'api://tokex', roles: 'Jobs.Train', pad: 'x'.repeat(20 * 1024) });
    const res = await fetch(`${tokex.url}/credentials/storage-key`, { headers: { authorization: `Bearer ${big}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const record = await tokex.auditFor(res.headers.get('x-correlation-id')!);
    expect(record).toMatchObject({ event: 'credential.read', outcome: 'denied', reason: 'token_too_large', request: { secret: 'storage-key' } });
  });

  it('a caller whose rules grant no secrets: 403 access_denied', async () => {
    const res = await fetch(`${tokex.url}/credentials/storage-key`, { headers: { authorization: `Bearer ${await trainer()}` } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'access_denied' });
  });
});

describe('metadata, JWKS, health', () => {
  it('serves RFC 8414 metadata naming the token endpoint and the exchange grant', async () => {
    const res = await fetch(`${tokex.url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: `http://localhost:${tokex.env.PORT}`,
      token_endpoint: `http://localhost:${tokex.env.PORT}/token`,
      jwks_uri: `http://localhost:${tokex.env.PORT}/.well-known/jwks.json`,
      grant_types_supported: [TOKEN_EXCHANGE],
      token_endpoint_auth_methods_supported: ['none'],
    });
    // Metadata reveals no policy unless TOKEX_PUBLISH_SCOPES=true (issue 11 item 14).
    expect(meta).not.toHaveProperty('scopes_supported');
  });

  it('publishes only public key parts', async () => {
    const jwks = (await (await fetch(`${tokex.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('/health says ok and nothing about the policy', async () => {
    const res = await fetch(`${tokex.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
