import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { ACCESS_TOKEN_TYPE, LocalTokex, TOKEN_EXCHANGE } from '../helpers/local-host.js';

let idp: FakeIssuer;
let tokex: LocalTokex;

beforeAll(async () => {
  idp = await FakeIssuer.start();
  tokex = await LocalTokex.start(`
issuers:
  - { name: idp, issuer: "${idp.issuer}", audience: api://tokex }
rules:
  - name: batch
    when: { issuer: idp, claims: { roles: Batch.Run } }
    grant:
      - { minted: "https://workspace.internal", scopes: [jobs.read, jobs.submit] }
  - name: batch-on-behalf
    when: { issuer: idp, claims: { roles: Batch.Run }, actor: { issuer: idp, claims: { sub: "scheduler" } } }
    grant:
      - { minted: "https://workspace.internal", scopes: [jobs.submit] }
`);
});
afterAll(async () => {
  await tokex?.stop();
  await idp?.close();
});

/** An unmodified OAuth client library, configured from tokex's RFC 8414 metadata. */
async function discover(): Promise<client.Configuration> {
  return client.discovery(new URL(`http://localhost:${tokex.env.PORT}`), 'batch-client', undefined, client.None(), {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
  });
}

it('openid-client discovers tokex and performs the RFC 8693 exchange', async () => {
  const config = await discover();
  expect(config.serverMetadata().token_endpoint).toBe(`http://localhost:${tokex.env.PORT}/token`);
  const subject = await idp.token({ sub: 'batch-7', aud: 'api://tokex', roles: ['Batch.Run'] });
  const tokens = await client.genericGrantRequest(config, TOKEN_EXCHANGE, {
    subject_token: subject,
    subject_token_type: ACCESS_TOKEN_TYPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
    audience: 'https://workspace.internal',
    scope: 'jobs.read',
  });
  expect(tokens.token_type).toBe('bearer');
  expect(tokens.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
  expect(tokens.scope).toBe('jobs.read');
  expect(tokens.expiresIn()).toBeGreaterThan(590);
  const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
  const { payload } = await jwtVerify(tokens.access_token, jwks, {
    issuer: config.serverMetadata().issuer,
    audience: 'https://workspace.internal',
    typ: 'at+jwt',
  });
  expect(payload).toMatchObject({ sub: 'idp:batch-7', scope: 'jobs.read' });
});

it('openid-client surfaces tokex refusals as standard OAuth errors', async () => {
  const config = await discover();
  const subject = await idp.token({ sub: 'batch-7', aud: 'api://tokex', roles: ['Batch.Run'] });
  const refused = await client
    .genericGrantRequest(config, TOKEN_EXCHANGE, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'https://workspace.internal',
      scope: 'jobs.delete',
    })
    .catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(client.ResponseBodyError);
  expect(refused).toMatchObject({ error: 'invalid_scope', status: 400 });
  expect((refused as client.ResponseBodyError).error_description).toMatch(/correlation id [0-9a-f-]{36}/);
});

it('openid-client performs a delegation exchange (actor_token) unmodified; the token carries act', async () => {
  const config = await discover();
  const subject = await idp.token({ sub: 'batch-7', aud: 'api://tokex', roles: ['Batch.Run'], may_act: { sub: 'scheduler', iss: idp.issuer } });
  const actor = await idp.token({ sub: 'scheduler', aud: 'api://tokex' });
  const tokens = await client.genericGrantRequest(config, TOKEN_EXCHANGE, {
    subject_token: subject,
    subject_token_type: ACCESS_TOKEN_TYPE,
    actor_token: actor,
    actor_token_type: ACCESS_TOKEN_TYPE,
    audience: 'https://workspace.internal',
  });
  expect(tokens.scope).toBe('jobs.submit');
  const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
  const { payload } = await jwtVerify(tokens.access_token, jwks, {
    issuer: config.serverMetadata().issuer,
    audience: 'https://workspace.internal',
    typ: 'at+jwt',
  });
  expect(payload.act).toEqual({ iss: idp.issuer, sub: 'idp:scheduler' });
});
