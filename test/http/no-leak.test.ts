import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { exchangeForm, LocalTokex } from '../helpers/local-host.js';

let idp: FakeIssuer;
let tokex: LocalTokex;

beforeAll(async () => {
  idp = await FakeIssuer.start();
  tokex = await LocalTokex.start(`
issuers:
  - { name: idp, issuer: "${idp.issuer}", audience: api://tokex }
rules:
  - name: r
    when: { issuer: idp, claims: { roles: R } }
    grant:
      - { minted: "https://workspace.internal", scopes: [a, b] }
`);
});
afterAll(async () => {
  await tokex?.stop();
  await idp?.close();
});

it('no subject token, issued token or Authorization header appears in stdout, stderr or the audit file', async () => {
  const secrets: string[] = [];
  const watch = (token: string) => {
    // Each segment too: a log that printed only the payload or signature would still leak it.
    secrets.push(token, ...token.split('.').filter((s) => s.length > 20));
    return token;
  };
  const ids: string[] = [];
  const run = async (form: Record<string, string | string[]>, headers: Record<string, string> = {}) => {
    const res = await tokex.exchange(form, { headers });
    ids.push(res.headers.get('x-correlation-id')!);
    if (typeof res.body.access_token === 'string') watch(res.body.access_token);
    return res;
  };

  const granted = await run(exchangeForm(watch(await idp.token({ sub: 's1', aud: 'api://tokex', roles: 'R' })), { audience: 'https://workspace.internal' }));
  expect(granted.status).toBe(200);
  // Refusals of every stage: bad request, bad token, bad signature, no rule, bad scope.
  await run({ ...exchangeForm(watch(await idp.token({ sub: 's2', aud: 'api://tokex', roles: 'R' }))), grant_type: 'password' });
  await run(exchangeForm(watch('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), { audience: 'https://workspace.internal' }));
  const forged = await idp.token({ sub: 's3', aud: 'api://tokex', roles: 'R' });
  await run(exchangeForm(watch(`${forged.slice(0, -6)}AAAAAA`), { audience: 'https://workspace.internal' }));
  await run(exchangeForm(watch(await idp.token({ sub: 's4', aud: 'api://tokex' })), { audience: 'https://workspace.internal' }));
  await run(exchangeForm(watch(await idp.token({ sub: 's5', aud: 'api://tokex', roles: 'R' })), { audience: 'https://workspace.internal', scope: 'zzz' }));
  const bearer = watch(await idp.token({ sub: 's6', aud: 'api://tokex', roles: 'R' }));
  await run(exchangeForm('x', { audience: 'https://workspace.internal' }), { authorization: `Bearer ${bearer}` });

  for (const id of ids) await tokex.auditFor(id);
  const captured = [tokex.stdout, tokex.stderr, tokex.auditFile()].join('\n');
  expect(tokex.auditRecords().length).toBe(ids.length);
  expect(secrets.length).toBeGreaterThan(20);
  for (const secret of secrets) expect(captured.includes(secret), `leaked ${secret.slice(0, 12)}…`).toBe(false);
  expect(captured.toLowerCase()).not.toContain('authorization');
});
