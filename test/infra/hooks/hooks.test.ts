/**
 * The azd hooks as azd runs them: `node infra/hooks/<name>.mjs` in the project root, with the azd
 * environment's values as environment variables and `azd` on PATH (here a fake that answers
 * `azd auth token` as azd does and records `azd env set`).
 */
import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKeyVault } from '../../fakes/key-vault.js';
import { throwawayTls } from '../../fakes/tls.js';

const root = resolve(import.meta.dirname, '../../..');
let vault: FakeKeyVault;
let azdDir: string;

/** A fake `azd`: `auth token` prints a token as `azd auth token --output json` does; `env set` is logged. */
function fakeAzd(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-azd-'));
  writeFileSync(
    join(dir, 'azd'),
    `#!/bin/sh
echo "$@" >> "${dir}/calls.log"
if [ "$1 $2" = "auth token" ]; then
  echo '{"token":"azd-user-token","expiresOn":"2099-01-01T00:00:00Z"}'
fi
`,
  );
  chmodSync(join(dir, 'azd'), 0o755);
  return dir;
}
const azdCalls = () => (existsSync(join(azdDir, 'calls.log')) ? readFileSync(join(azdDir, 'calls.log'), 'utf8').trim().split('\n') : []);

function hook(name: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [`infra/hooks/${name}.mjs`], {
      cwd: root,
      env: { PATH: `${azdDir}${delimiter}${process.env.PATH}`, NODE_EXTRA_CA_CERTS: throwawayTls().caBundle, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  vault = await FakeKeyVault.start();
  azdDir = fakeAzd();
});
afterAll(async () => vault.close());

describe('postprovision', () => {
  it('creates the signing key as the azd user, prints no key, and leaves it alone on the next run', async () => {
    const env = { KEY_VAULT_URL: vault.url, TOKEX_SIGNING_KEY_SECRET: 'tokex-signing', AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47' };
    const first = await hook('postprovision', env);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe(`signing key tokex-signing created in ${vault.url} (EC P-256)\n`);
    const [stored] = vault.secrets.get('tokex-signing')!;
    expect(createPrivateKey(stored!.value).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(stored!.contentType).toBe('application/x-pem-file');
    expect(vault.bearers).toEqual(new Set(['azd-user-token']));
    expect(azdCalls()).toContainEqual(
      expect.stringMatching(
        /^auth token --output json --no-prompt --scope https:\/\/vault\.azure\.net\/\.default --tenant-id 72f988bf-86f1-41af-91ab-2d7cd011db47$/,
      ),
    );

    const second = await hook('postprovision', env);
    expect(second).toMatchObject({ code: 0, stdout: `signing key tokex-signing exists in ${vault.url}: left as it is\n` });
    expect(vault.secrets.get('tokex-signing')).toHaveLength(1);
  });

  it('without KEY_VAULT_URL: exit 1 and says to run it after provisioning', async () => {
    const result = await hook('postprovision', {});
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('postprovision: NO_VAULT: KEY_VAULT_URL is not set: run this as an azd hook after provisioning (`azd provision` sets it)\n');
  });
});

describe('Key Vault name suffix', () => {
  it('preprovision sets a new 6-character suffix once, keeps it afterwards; postdown replaces it', async () => {
    const before = azdCalls().length;
    const fresh = await hook('preprovision', {});
    expect(fresh.code).toBe(0);
    const set = azdCalls().slice(before);
    expect(set).toEqual([expect.stringMatching(/^env set TOKEX_KEY_VAULT_SUFFIX [a-z0-9]{6}$/)]);
    const suffix = set[0]!.split(' ').pop()!;
    expect(fresh.stdout).toBe(`Key Vault name suffix: ${suffix} (new for this environment)\n`);

    const kept = await hook('preprovision', { TOKEX_KEY_VAULT_SUFFIX: suffix });
    expect(kept).toMatchObject({ code: 0, stdout: `Key Vault name suffix: ${suffix} (kept)\n` });
    expect(azdCalls().slice(before)).toHaveLength(1);

    const down = await hook('postdown', { TOKEX_KEY_VAULT_SUFFIX: suffix });
    expect(down.code).toBe(0);
    const replaced = azdCalls().slice(before + 1);
    expect(replaced).toEqual([expect.stringMatching(/^env set TOKEX_KEY_VAULT_SUFFIX [a-z0-9]{6}$/)]);
    expect(replaced[0]).not.toBe(set[0]);
  });
});

describe('predeploy', () => {
  const settings = { TOKEX_API_CLIENT_ID: '11111111-1111-1111-1111-111111111111', AZURE_TENANT_ID: '22222222-2222-2222-2222-222222222222' };

  it('checks the policy being deployed for the Azure host, with the values the app settings get', async () => {
    const result = await hook('predeploy', { ...settings, TOKEX_POLICY_FILE: 'policy.example.yaml' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^policy\.example\.yaml: ok \(.*checked for the Azure Functions host\)\n$/);
  });

  it('stops the deployment on a policy the Azure host would refuse (the dev policy trusts the dev issuer)', async () => {
    const result = await hook('predeploy', { ...settings, TOKEX_POLICY_FILE: 'policy.dev.yaml' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('policy.dev.yaml');
  });

  it('stops the deployment when the policy file is missing, naming it', async () => {
    const result = await hook('predeploy', { ...settings, TOKEX_POLICY_FILE: 'no-such-policy.yaml' });
    expect(result).toMatchObject({
      code: 1,
      stderr: 'predeploy: the policy file no-such-policy.yaml does not exist (TOKEX_POLICY_FILE, default policy.yaml; start from policy.example.yaml)\n',
    });
  });
});
