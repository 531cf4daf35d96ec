import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rsaKeyPair } from '../fakes/rsa-keys.js';
import { CLI, placeDevIssuerKey } from '../helpers/local-host.js';

/** One dev issuer key for every case (each is a server of its own). */
const devKey = rsaKeyPair().privateKey;
const GOOD_POLICY = 'rules:\n  - name: r\n    when: { issuer: dev }\n    grant:\n      - { minted: "https://x.internal", scopes: [a] }\n';

/**
 * Runs `tokex serve` in a scratch folder; it must exit at once with one line naming the problem.
 * Not blocking, so the cases below run side by side.
 */
function serve(env: Record<string, string>, files: Record<string, string> = {}): Promise<{ status: number | null; stderr: string; stdout: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-startup-'));
  writeFileSync(join(dir, 'policy.yaml'), GOOD_POLICY);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  // A case that fails late (a port in use) would otherwise make the dev issuer's RSA key first.
  placeDevIssuerKey(join(dir, '.local'), devKey);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'serve'],
      {
        cwd: dir,
        env: { PATH: process.env.PATH, PORT: '0', TOKEX_POLICY: 'policy.yaml', TOKEX_LOCAL_DIR: join(dir, '.local'), ...env },
        encoding: 'utf8',
        timeout: 15_000,
      },
      (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr: stderr.trim(), stdout }),
    );
  });
}

describe.concurrent('bad settings or policy stop startup with one message naming it', () => {
  const cases: [string, Record<string, string>, Record<string, string>, RegExp][] = [
    ['PORT', { PORT: 'http' }, {}, /^tokex: PORT: must be a port number/],
    ['TOKEX_AUDIT_REQUIRED', { TOKEX_AUDIT_REQUIRED: 'yes' }, {}, /^tokex: TOKEX_AUDIT_REQUIRED: must be true or false \(got "yes"\)$/],
    ['TOKEX_ISSUER', { TOKEX_ISSUER: 'http://tokex.example.com' }, {}, /^tokex: TOKEX_ISSUER: must be https \(http only on loopback\)/],
    ['TOKEX_SIGNING_KEY', { TOKEX_SIGNING_KEY: 'pem-in-env' }, {}, /^tokex: TOKEX_SIGNING_KEY: must be kv:<secret-name>/],
    ['KEY_VAULT_URL', { TOKEX_SIGNING_KEY: 'kv:tokex-signing' }, {}, /^tokex: KEY_VAULT_URL: required because TOKEX_SIGNING_KEY names a Key Vault secret$/],
    ['TOKEX_AUDIT_FILE', { TOKEX_AUDIT_FILE: '/nonexistent-dir/audit.jsonl' }, {}, /^tokex: TOKEX_AUDIT_FILE: cannot be written \(ENOENT\)$/],
    ['TOKEX_POLICY missing', { TOKEX_POLICY: 'nope.yaml' }, {}, /^tokex: nope\.yaml: cannot be read \(ENOENT\)$/],
    [
      'policy line',
      { TOKEX_POLICY: 'bad.yaml' },
      { 'bad.yaml': GOOD_POLICY.replace('scopes: [a]', 'scopes: [a], lifetime: 2 days') },
      /^tokex: bad\.yaml:5: rules\[0\]\.grant\[0\]\.lifetime: must be a duration/,
    ],
    ['local.settings.json', {}, { 'local.settings.json': '{ "Values": { "PORT": 1 } }' }, /^tokex: local\.settings\.json: Values\.PORT must be a string$/],
  ];
  for (const [name, env, files, message] of cases) {
    it(name, async ({ expect }) => {
      const run = await serve(env, files);
      expect(run.status).toBe(1);
      expect(run.stderr.split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    });
  }

  it('the environment wins over local.settings.json', async ({ expect }) => {
    const run = await serve({ TOKEX_AUDIT_REQUIRED: 'maybe' }, { 'local.settings.json': JSON.stringify({ Values: { TOKEX_AUDIT_REQUIRED: 'true' } }) });
    expect(run.stderr).toMatch(/TOKEX_AUDIT_REQUIRED: must be true or false \(got "maybe"\)/);
  });
});

describe('the Functions entry point', () => {
  const entry = resolve(import.meta.dirname, '../../dist/functions/index.js');
  it('refuses to load without TOKEX_ISSUER, naming it', () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`], {
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('tokex: TOKEX_ISSUER: required when running in Azure');
  });
});

it('a port in use stops startup with one line naming PORT, not a stack trace', async () => {
  const { createServer } = await import('node:net');
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const { port } = holder.address() as import('node:net').AddressInfo;
  try {
    const run = await serve({ PORT: String(port) });
    expect(run.status).toBe(1);
    expect(run.stderr.split('\n').filter((l) => !l.includes('warning'))).toEqual([`tokex: PORT: port ${port} on 127.0.0.1 is in use (set --port or PORT)`]);
  } finally {
    holder.close();
  }
});
