/**
 * Key Vault–held signing keys across a rotation, and the Functions entry point loading in Azure
 * mode (settings from the environment, the signing key from Key Vault through the managed identity).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKeyVault } from '../fakes/key-vault.js';
import { FakeManagedIdentity } from '../fakes/managed-identity.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { throwawayTls } from '../fakes/tls.js';
import { exchangeForm, LocalTokex } from '../helpers/local-host.js';

let idp: FakeIssuer;
let mi: FakeManagedIdentity;
let vault: FakeKeyVault;
const ecKey = () => execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'], { encoding: 'utf8' });
const policy = () => `
issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]
rules:
  - name: r
    when: { issuer: idp }
    grant: [{ minted: "https://w.internal", scopes: [a], lifetime: 1h }]
`;

beforeAll(async () => {
  [idp, mi, vault] = await Promise.all([FakeIssuer.start(), FakeManagedIdentity.start(), FakeKeyVault.start()]);
});
afterAll(() => Promise.all([idp?.close(), mi?.close(), vault?.close()]));

const env = (secret: string) => ({ ...mi.env(), KEY_VAULT_URL: vault.url, NODE_EXTRA_CA_CERTS: throwawayTls().caBundle, TOKEX_SIGNING_KEY: `kv:${secret}` });

async function mint(tokex: LocalTokex): Promise<string> {
  const res = await tokex.exchange(exchangeForm(await idp.token({ sub: 's', aud: 'api://tokex' }), { audience: 'https://w.internal' }));
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

async function jwks(tokex: LocalTokex): Promise<JSONWebKeySet> {
  return (await (await fetch(`${tokex.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
}

describe('signing key rotation in Key Vault', () => {
  it('a new version becomes current on restart; the previous key stays published while its tokens live', async () => {
    // A version retired two days ago (its successor is older than lifetime + refresh) is no longer published.
    vault.set('rotating', ecKey(), { createdAgoSeconds: 3 * 86_400 });
    vault.set('rotating', ecKey(), { createdAgoSeconds: 2 * 86_400 });
    const first = await LocalTokex.start(policy(), env('rotating'));
    const oldToken = await mint(first);
    const before = await jwks(first);
    await first.stop();
    expect(before.keys).toHaveLength(1);

    vault.set('rotating', ecKey());
    const second = await LocalTokex.start(policy(), env('rotating'));
    try {
      const after = await jwks(second);
      expect(after.keys).toHaveLength(2);
      const newToken = await mint(second);
      expect(decodeProtectedHeader(newToken).kid).toBe(after.keys[0]!.kid);
      expect(decodeProtectedHeader(oldToken).kid).toBe(after.keys[1]!.kid);
      expect(before.keys[0]!.kid).toBe(after.keys[1]!.kid);
      // Tokens signed before the rotation still verify against the published set.
      const set = createLocalJWKSet(after);
      await jwtVerify(oldToken, set, { audience: 'https://w.internal' });
      await jwtVerify(newToken, set, { audience: 'https://w.internal' });
    } finally {
      await second.stop();
    }
  }, 60_000);

  it('startup stops with a message naming TOKEX_SIGNING_KEY when the secret is missing or not a key', async () => {
    vault.set('not-a-key', 'hello');
    const cases = [
      ['absent-key', /cannot load Key Vault secret "absent-key"/],
      ['not-a-key', /not a private key/],
    ] as const;
    // Side by side: each is a process that starts and stops.
    const errors = await Promise.all(
      cases.map(([secret]) =>
        LocalTokex.start(policy(), env(secret)).then(
          async (t) => {
            await t.stop();
            return undefined;
          },
          (e: Error) => e,
        ),
      ),
    );
    for (const [i, [, why]] of cases.entries()) {
      expect(errors[i]?.message).toMatch(/TOKEX_SIGNING_KEY: /);
      expect(errors[i]?.message).toMatch(why);
    }
  }, 30_000);
});

describe('the Functions entry point in Azure mode', () => {
  const entry = resolve(import.meta.dirname, '../../dist/functions/index.js');
  /** Imports the entry point in a child process (async: the fakes answer from this process's event loop). */
  async function load(policyText: string, extra: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'tokex-azure-'));
    writeFileSync(join(dir, 'policy.yaml'), policyText);
    const child = spawn(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(entry)}); console.log('loaded'); process.exit(0);`], {
      cwd: dir,
      env: { PATH: process.env.PATH, ...env('azure-signing'), TOKEX_ISSUER: 'https://tokex.example.net', TOKEX_POLICY: 'policy.yaml', ...extra },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill(), 20_000);
    const status = await new Promise<number | null>((r) => child.once('exit', r));
    clearTimeout(timer);
    return { status, stdout, stderr };
  }

  it('loads: the signing key comes from Key Vault through the managed identity, then every function registers', async () => {
    vault.set('azure-signing', ecKey());
    const before = mi.count('https://vault.azure.net');
    const run = await load(policy());
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('loaded');
    for (const name of ['token', 'credentials', 'jwks', 'metadata', 'health']) expect(run.stderr).toContain(`register function "${name}"`);
    expect(mi.count('https://vault.azure.net') - before).toBe(1);
  });

  it('refuses an azure-cli identity, and a missing signing key, naming them', async () => {
    const [cli, noVault] = await Promise.all([
      load(`${policy()}identities:\n  laptop: { type: azure-cli }\n`),
      load(policy().replace('grant: [{ minted: "https://w.internal", scopes: [a], lifetime: 1h }]', 'grant: [{ secrets: [s-*] }]'), {
        KEY_VAULT_URL: '',
        TOKEX_SIGNING_KEY: '',
      }),
    ]);
    expect(cli.status).not.toBe(0);
    expect(cli.stderr).toMatch(/tokex: policy\.yaml:8: identities\.laptop\.type: azure-cli identities are for local development only/);
    expect(noVault.stderr).toMatch(/tokex: TOKEX_SIGNING_KEY: required when running in Azure/);
  });
});
