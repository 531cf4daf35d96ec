import { mkdirSync, rmSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { exchangeForm, LocalTokex } from '../helpers/local-host.js';

const hosts: LocalTokex[] = [];
let idp: FakeIssuer | undefined;
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
  await idp?.close();
});

async function start(required: boolean): Promise<LocalTokex> {
  idp = await FakeIssuer.start();
  const host = await LocalTokex.start(
    `
issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]
rules: [{ name: r, when: { issuer: idp }, grant: [{ minted: "https://w.internal", scopes: [a] }] }]
`,
    { TOKEX_AUDIT_REQUIRED: String(required) },
  );
  hosts.push(host);
  return host;
}

/** Makes the audit file unwritable in a way root cannot ignore: a directory where the file was. */
function breakAuditFile(host: LocalTokex): void {
  rmSync(host.env.TOKEX_AUDIT_FILE!);
  mkdirSync(host.env.TOKEX_AUDIT_FILE!);
}

function restoreAuditFile(host: LocalTokex): void {
  rmSync(host.env.TOKEX_AUDIT_FILE!, { recursive: true });
}

it('TOKEX_AUDIT_REQUIRED=true: no token is released when the audit file cannot take the record (503), and service resumes with it', async () => {
  const host = await start(true);
  const exchange = async () => host.exchange(exchangeForm(await idp!.token({ sub: 's', aud: 'api://tokex' }), { audience: 'https://w.internal' }));
  expect((await exchange()).status).toBe(200);
  breakAuditFile(host);
  const refused = await exchange();
  expect(refused.status).toBe(503);
  expect(refused.body).toMatchObject({ error: 'temporarily_unavailable' });
  expect(refused.body.access_token).toBeUndefined();
  expect(refused.headers.get('retry-after')).toBe('5');
  // The log line shows the real outcome, and why.
  expect(await host.auditFor(refused.headers.get('x-correlation-id')!)).toMatchObject({ outcome: 'failed', reason: 'audit_unavailable' });
  expect(host.stderr).toMatch(/"message":"audit sink failed".*"error":"Error: EISDIR"/);
  restoreAuditFile(host);
  expect((await exchange()).status).toBe(200);
});

it('default (best effort): the exchange succeeds and the sink failure is logged', async () => {
  const host = await start(false);
  breakAuditFile(host);
  const res = await host.exchange(exchangeForm(await idp!.token({ sub: 's', aud: 'api://tokex' }), { audience: 'https://w.internal' }));
  expect(res.status).toBe(200);
  expect(await host.auditFor(res.headers.get('x-correlation-id')!)).toMatchObject({ outcome: 'granted', reason: 'ok' });
  expect(host.stderr).toMatch(/"message":"audit sink failed"/);
});
