import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createRoutes, type Route } from '../../functions/routes.js';
import { loadSettings } from '../../shared/settings.js';
import { startTokex } from '../../shared/startup.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';

const { HttpRequest, InvocationContext } = azureFunctions;
type HttpRequest = InstanceType<typeof HttpRequest>;
type InvocationContext = InstanceType<typeof InvocationContext>;

let idp: FakeIssuer;
let routes: readonly Route[];
const handler = (name: string) => async (request: HttpRequest, context: InvocationContext) =>
  (await routes.find((r) => r.name === name)!.handler(request, context)) as HttpResponseInit;
beforeAll(async () => {
  idp = await FakeIssuer.start();
  const dir = mkdtempSync(join(tmpdir(), 'tokex-fn-'));
  writeFileSync(
    join(dir, 'policy.yaml'),
    `
issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]
rules:
  - { name: r, when: { issuer: idp }, grant: [{ minted: "https://w.internal", scopes: [a] }] }
`,
  );
  const settings = loadSettings(
    { TOKEX_POLICY: join(dir, 'policy.yaml'), TOKEX_LOCAL_DIR: join(dir, '.local'), TOKEX_ISSUER: 'https://tokex.example' },
    'local',
  );
  const tokex = await startTokex(settings);
  routes = createRoutes({ tokex: async () => tokex });
  return () => idp.close();
});

describe('functions/ handlers called as the Functions host calls them', () => {
  it('token: form body in, OAuth JSON out, invocation id as correlation id, client IP from X-Forwarded-For', async () => {
    const subject = await idp.token({ sub: 'svc', aud: 'api://tokex' });
    const request = new HttpRequest({
      method: 'POST',
      url: 'https://tokex.example/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.9, 10.1.2.3:50432' },
      body: {
        string: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: subject,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          audience: 'https://w.internal',
        }).toString(),
      },
    });
    const invocationId = '6a1b0c3e-8f47-4e2b-9a55-0d9e2f7c1b11';
    // Audit lines leave through one buffered write to stdout (no console), done before the answer.
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((...args: unknown[]) => {
      (args.find((a) => typeof a === 'function') as (() => void) | undefined)?.();
      return true;
    });
    const response = await handler('token')(request, new InvocationContext({ invocationId, functionName: 'token' }));
    const audit = stdout.mock.calls.flatMap((c) => String(c[0]).split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
    stdout.mockRestore();
    // The last X-Forwarded-For entry is the one Azure's front end appended; the port is dropped.
    expect(audit).toEqual([expect.objectContaining({ correlationId: invocationId, outcome: 'granted', clientIp: '10.1.2.3' })]);
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({ 'x-correlation-id': invocationId, 'cache-control': 'no-store' });
    expect(response.jsonBody).toMatchObject({ token_type: 'Bearer', scope: 'a' });
  });

  it('health answers without the host', async () => {
    const response = await handler('health')(new HttpRequest({ method: 'GET', url: 'https://tokex.example/health' }), new InvocationContext());
    expect(response.jsonBody).toEqual({ status: 'ok' });
  });

  it('the route table names each function once, with routePrefix "" routes', () => {
    expect(routes.map((r) => `${r.methods.join(',')} /${r.route}`)).toEqual([
      'POST /token',
      'GET /credentials/{name}',
      'GET /.well-known/jwks.json',
      'GET /.well-known/oauth-authorization-server',
      'GET /health',
    ]);
  });
});
