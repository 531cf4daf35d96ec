/**
 * A careless policy author and an attacker who knows it (issue 11 items 1, 2, 3, 7, 9, 10, 13):
 * each abuse over HTTP against the built local host, with the real Key Vault SecretClient against
 * the fake vault, and `tokex policy check` as an author runs it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyError, parsePolicy } from '../../shared/policy/load.js';
import { API_CLIENT_ID, FakeEntra, TENANT_A } from '../fakes/entra.js';
import { FakeKeyVault } from '../fakes/key-vault.js';
import { FakeManagedIdentity } from '../fakes/managed-identity.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { throwawayTls } from '../fakes/tls.js';
import { exchangeForm, LocalTokex } from '../helpers/local-host.js';
import { type CommandRun, tokexCommand } from '../helpers/tokex-command.js';

const SP_TENANT = '77777777-7777-4777-8777-777777777777';
const SP_CLIENT = '88888888-8888-4888-8888-888888888888';

let idp: FakeIssuer;
let other: FakeIssuer;
let entra: FakeEntra;
let mi: FakeManagedIdentity;
let vault: FakeKeyVault;
let tokex: LocalTokex;

function policy(): string {
  return `
issuers:
  - { name: idp, issuer: "${idp.issuer}", audience: api://tokex }
  - { name: other, issuer: "${other.issuer}", audience: api://tokex }
  - { name: corp, kind: entra, issuer: "${entra.v2(TENANT_A)}", audience: "${API_CLIENT_ID}", jwksUri: "${entra.origin}/keys" }
identities:
  ml-admin: { type: service-principal, tenantId: ${SP_TENANT}, clientId: ${SP_CLIENT}, clientSecret: kv:ml-admin-secret }
  ml-cert: { type: service-principal, tenantId: ${SP_TENANT}, clientId: ${SP_CLIENT}, certificate: kv:ML-Cert-PEM }
rules:
  - name: careless-star
    when: { issuer: idp, claims: { roles: Vault.All } }
    grant: [{ secrets: ["*"] }]
  - name: team
    when: { issuer: idp, claims: { roles: Team } }
    grant: [{ secrets: [Team-*] }]
  - name: jobs-read
    when: { issuer: idp, claims: { roles: Jobs.Read } }
    grant: [{ minted: "https://jobs.internal", scopes: [jobs.read] }]
  - name: jobs-admin
    when: { issuer: idp, claims: { roles: Jobs.Admin } }
    grant: [{ minted: "https://jobs.internal", scopes: [jobs.read, jobs.admin] }]
  - name: idp-anyone
    when: { issuer: idp }
    grant: [{ minted: "https://same.internal", scopes: [s] }]
  - name: other-anyone
    when: { issuer: other }
    grant: [{ minted: "https://same.internal", scopes: [s] }]
  - name: people
    when: { issuer: corp, claims: { scp: access_as_user } }
    grant: [{ minted: "https://people.internal", scopes: [read] }]
  - name: files
    when: { issuer: idp, claims: { scp: "Files.*.All" } }
    grant: [{ minted: "https://files.internal", scopes: [read] }]
  - name: tagged
    when: { issuer: idp, claims: { team: "team-*" } }
    grant: [{ minted: "https://tagged.internal", scopes: [read] }]
`;
}

beforeAll(async () => {
  [idp, other, entra, mi, vault] = await Promise.all([
    FakeIssuer.start(),
    FakeIssuer.start(),
    FakeEntra.start(),
    FakeManagedIdentity.start(),
    FakeKeyVault.start(),
  ]);
  vault.set('tokex-signing', execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'], { encoding: 'utf8' }));
  vault.set('ml-admin-secret', 'sp-secret-value');
  vault.set('ML-Cert-PEM', 'pem-value');
  vault.set('db-password', 'db-value');
  vault.set('Team-DB-Password', 'team-value');
  vault.set('team-old', 'old-value', { expires: new Date(Date.now() - 60_000) });
  vault.set('team-future', 'future-value', { notBefore: new Date(Date.now() + 3_600_000) });
  tokex = await LocalTokex.start(policy(), {
    ...mi.env(),
    KEY_VAULT_URL: vault.url,
    NODE_EXTRA_CA_CERTS: throwawayTls().caBundle,
    TOKEX_SIGNING_KEY: 'kv:tokex-signing',
  });
}, 60_000);

afterAll(async () => {
  await tokex?.stop();
  await Promise.all([idp?.close(), other?.close(), entra?.close(), mi?.close(), vault?.close()]);
});

const caller = (claims: Record<string, unknown>) => idp.token({ aud: 'api://tokex', sub: 'job', ...claims });

async function credential(name: string, claims: Record<string, unknown>) {
  const res = await fetch(`${tokex.url}/credentials/${name}`, { headers: { authorization: `Bearer ${await caller(claims)}` } });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, audit: await tokex.auditFor(res.headers.get('x-correlation-id')!) };
}

async function exchange(token: string, extra: Record<string, string>) {
  const res = await tokex.exchange(exchangeForm(token, extra));
  return { ...res, audit: await tokex.auditFor(res.headers.get('x-correlation-id')!) };
}

describe("1. tokex's own secrets are never served", () => {
  it('the signing key and identities\' kv: secrets: 403 secret_reserved under "*", in any case, with no Key Vault read', async () => {
    const readsBefore = vault.totalReads();
    for (const name of ['tokex-signing', 'TOKEX-SIGNING', 'ml-admin-secret', 'Ml-Admin-Secret', 'ml-cert-pem', 'ML-Cert-PEM']) {
      const { status, body, audit } = await credential(name, { roles: ['Vault.All'] });
      expect([name, status, body.error, audit.reason, audit.outcome]).toEqual([name, 403, 'access_denied', 'secret_reserved', 'denied']);
      expect(JSON.stringify(body)).not.toMatch(/sp-secret-value|pem-value|PRIVATE KEY/);
    }
    expect(vault.totalReads()).toBe(readsBefore);
  });

  it('the same "*" still serves an ordinary secret', async () => {
    const { status, body } = await credential('db-password', { roles: ['Vault.All'] });
    expect([status, body.value]).toEqual([200, 'db-value']);
  });

  it('policy check warns about a glob that covers a reserved name, and still exits 0', async () => {
    const { stdout, stderr } = await policyCheck(policy(), { TOKEX_SIGNING_KEY: 'kv:tokex-signing', KEY_VAULT_URL: 'https://kv-x.vault.azure.net' });
    const warnings = stderr
      .trim()
      .split('\n')
      .filter((l) => l.includes('covers'));
    expect(warnings).toEqual([
      expect.stringMatching(
        /^\S+policy\.yaml:12: rules\[0\]\.grant\[0\]\.secrets\[0\]: warning: "\*" covers "tokex-signing", "ml-admin-secret", "ml-cert-pem", which tokex itself uses/,
      ),
    ]);
    expect(stdout).toMatch(/: ok \(/);
  });
});

describe('2. secret names compare as Key Vault compares them', () => {
  it("Team-* allows team-db-password in any case, and the answer carries the vault's own name", async () => {
    for (const asked of ['team-db-password', 'TEAM-DB-PASSWORD', 'Team-DB-Password']) {
      const { status, body } = await credential(asked, { roles: ['Team'] });
      expect([status, body.name, body.value]).toEqual([200, 'Team-DB-Password', 'team-value']);
    }
  });

  it('a secret past its Key Vault exp, or before its nbf, is not served: 404 secret_expired', async () => {
    for (const name of ['team-old', 'team-future']) {
      const { status, body, audit } = await credential(name, { roles: ['Team'] });
      expect([status, body.error, audit.reason]).toEqual([404, 'not_found', 'secret_expired']);
      expect(JSON.stringify(body)).not.toMatch(/old-value|future-value/);
    }
  });
});

describe('3. minted tokens say where the caller came from', () => {
  it('callers of two issuers with the same sub get different subs; oid and tid are not copied from an oidc issuer', async () => {
    const claims = { sub: 'alice', oid: '3f1c2b7e-0000-0000-0000-000000000000', tid: TENANT_A };
    const fromIdp = await exchange(await idp.token({ aud: 'api://tokex', ...claims }), { audience: 'https://same.internal' });
    const fromOther = await exchange(await other.token({ aud: 'api://tokex', ...claims }), { audience: 'https://same.internal' });
    expect([fromIdp.status, fromOther.status]).toEqual([200, 200]);
    const a = decodeJwt(fromIdp.body.access_token as string);
    const b = decodeJwt(fromOther.body.access_token as string);
    expect([a.sub, b.sub]).toEqual(['idp:alice', 'other:alice']);
    expect([a.oid, a.tid, b.oid, b.tid]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('an Entra caller keeps sub = oid, with its oid and tid', async () => {
    const res = await exchange(await entra.user(TENANT_A), { audience: 'https://people.internal' });
    expect(res.status).toBe(200);
    const minted = decodeJwt(res.body.access_token as string);
    expect(minted.sub).toBe(minted.oid);
    expect(minted.tid).toBe(TENANT_A);
    expect(minted.sub).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('7. scp is a set of space-delimited scopes', () => {
  it('scp: access_as_user holds for "User.Read access_as_user", not for access_as_user_readonly', async () => {
    const ok = await exchange(await entra.user(TENANT_A, { scp: 'User.Read access_as_user' }), { audience: 'https://people.internal' });
    const lookalike = await exchange(await entra.user(TENANT_A, { scp: 'access_as_user_readonly' }), { audience: 'https://people.internal' });
    expect([ok.status, ok.audit.rule]).toEqual([200, 'people']);
    expect([lookalike.status, lookalike.audit.reason]).toEqual([400, 'no_rule']);
  });

  it('a glob matches each scope on its own, never across two', async () => {
    const across = await exchange(await caller({ scp: 'Files.Read Mail.All' }), { audience: 'https://files.internal' });
    const one = await exchange(await caller({ scp: 'User.Read Files.Read.All' }), { audience: 'https://files.internal' });
    expect([across.status, across.body.error, across.audit.reason]).toEqual([400, 'invalid_target', 'target_not_allowed']);
    expect([one.status, one.audit.rule]).toEqual([200, 'files']);
  });
});

describe('9. claim values mean exactly what they say', () => {
  const base = (claims: string) =>
    `issuers:\n  - { name: idp, issuer: "https://idp.example", audience: api://tokex }\nrules:\n  - name: r\n    when:\n      issuer: idp\n      claims:\n${claims}\n    grant: [{ minted: "https://w.internal", scopes: [a] }]\n`;
  const problems = (text: string) => {
    try {
      parsePolicy(text, 'policy.yaml', { ownIssuer: 'https://tokex.example', mode: 'local' });
    } catch (err) {
      if (err instanceof PolicyError) return err.message.split('\n');
      throw err;
    }
    return [];
  };

  it.each([
    ['an unsafe integer', '        employeeId: 12345678901234567890', /employeeId: the number 12345678901234567890 would not be compared exactly .*quote it/],
    ['a fraction', '        level: 1.5', /level: the number 1\.5 .*quote it/],
    ['hex', '        code: 0x10', /code: the number 0x10 would not be compared exactly \(YAML reads it as 16\)/],
    ['octal', '        code: 0o17', /code: the number 0o17 .*reads it as 15/],
    ['leading zeros', '        code: 0012', /code: the number 0012 .*reads it as 12/],
    ['an exponent', '        code: 1e3', /code: the number 1e3 .*reads it as 1000/],
    ['infinity', '        code: .inf', /code: the number \.inf .*reads it as Infinity/],
  ])('%s is a load error asking to quote it', (_, line, message) => {
    const [only, ...rest] = problems(base(line));
    expect(rest).toEqual([]);
    expect(only).toMatch(/^policy\.yaml:8: rules\[0\]\.when\.claims\./);
    expect(only).toMatch(message);
  });

  it('the same values quoted, and plain safe integers, load', () => {
    expect(problems(base('        employeeId: "12345678901234567890"\n        code: "0x10"\n        level: 42'))).toEqual([]);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('%s as a claim name is a load error', (name) => {
    expect(problems(base(`        ${name}: x`))).toEqual([
      `policy.yaml:8: rules[0].when.claims.${name}: "${name}" is not a claim name tokex accepts (__proto__, constructor and prototype are refused)`,
    ]);
  });

  it('unknown YAML tags and parser warnings are load errors', () => {
    expect(problems(base('        roles: !custom Admin'))).toEqual([expect.stringMatching(/^policy\.yaml:8: Unresolved tag: !custom/)]);
    expect(problems(base('        roles: !!binary QWRtaW4='))).toEqual([
      'policy.yaml:8: rules[0].when.claims.roles: the tag !!binary is not accepted (only !!str)',
    ]);
    expect(problems(base('        roles: !!str 0x10'))).toEqual([]);
  });

  it('an alias bomb is one line, file:line: problem, never a stack', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const bomb = `${levels.join('\n')}\nrules: []\n`;
    const found = problems(bomb);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^policy\.yaml:2: cannot be read: .*alias/i);
  });

  it('policy check prints the problem and exits 1', async () => {
    const run = await policyCheck(base('        code: 0x10'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/policy\.yaml:8: rules\[0\]\.when\.claims\.code: the number 0x10/);
  });
});

describe('10. globs never cross lines', () => {
  it('a claim value holding a control character matches no glob', async () => {
    for (const team of ['team-a\nadmin', 'team-a\u0000', 'team-\u007f', 'team-a\tb']) {
      const res = await exchange(await caller({ team }), { audience: 'https://tagged.internal' });
      expect([JSON.stringify(team), res.status, res.audit.reason]).toEqual([JSON.stringify(team), 400, 'target_not_allowed']);
    }
    const plain = await exchange(await caller({ team: 'team-a' }), { audience: 'https://tagged.internal' });
    expect([plain.status, plain.audit.rule]).toEqual([200, 'tagged']);
  });
});

describe('13. the first rule that allows every requested scope is chosen', () => {
  it('a Jobs.Admin holder gets jobs.admin although a Jobs.Read rule comes first', async () => {
    const both = await caller({ roles: ['Jobs.Read', 'Jobs.Admin'] });
    const admin = await exchange(both, { audience: 'https://jobs.internal', scope: 'jobs.admin' });
    expect([admin.status, admin.body.scope, admin.audit.rule]).toEqual([200, 'jobs.admin', 'jobs-admin']);
    const read = await exchange(both, { audience: 'https://jobs.internal', scope: 'jobs.read' });
    expect([read.status, read.audit.rule]).toEqual([200, 'jobs-read']);
    const all = await exchange(both, { audience: 'https://jobs.internal' });
    expect([all.status, all.body.scope, all.audit.rule]).toEqual([200, 'jobs.read', 'jobs-read']);
  });

  it('a Jobs.Read holder asking for jobs.admin is still refused (invalid_scope), naming the first rule', async () => {
    const res = await exchange(await caller({ roles: ['Jobs.Read'] }), { audience: 'https://jobs.internal', scope: 'jobs.admin' });
    expect([res.status, res.body.error, res.audit.reason, res.audit.rule]).toEqual([400, 'invalid_scope', 'scope_not_allowed', 'jobs-read']);
  });

  it('policy check warns about a rule that can never be chosen, and exits 0', async () => {
    const shadowed = `issuers:
  - { name: idp, issuer: "https://idp.example", audience: api://tokex }
rules:
  - name: broad
    when: { issuer: idp, claims: { roles: [Jobs.Read, Jobs.Admin] } }
    grant: [{ minted: "https://jobs.internal", scopes: [jobs.read, jobs.admin] }]
  - name: narrow
    when: { issuer: idp, claims: { roles: Jobs.Admin, tid: t } }
    grant: [{ minted: "https://jobs.internal", scopes: [jobs.admin] }]
  - name: mixed
    when: { issuer: idp, claims: { roles: Jobs.Read } }
    grant:
      - { minted: "https://jobs.internal", scopes: [jobs.read] }
      - { minted: "https://other.internal", scopes: [x] }
`;
    const { stdout, stderr } = await policyCheck(shadowed);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/policy\.yaml:7: rules\[1\]: warning: rule "narrow" can never be chosen: .*"broad"/),
      expect.stringMatching(/policy\.yaml:13: rules\[2\]\.grant\[0\]: warning: never chosen: rule "broad" comes first/),
    ]);
    expect(stdout).toMatch(/: ok \(2 issuers/);
  });
});

/** `tokex policy check` of `text`, run in this process with these settings only. */
async function policyCheck(text: string, env: Record<string, string> = {}): Promise<CommandRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-policy-'));
  writeFileSync(join(dir, 'policy.yaml'), text);
  return tokexCommand(['policy', 'check', join(dir, 'policy.yaml')], { cwd: dir, env });
}
