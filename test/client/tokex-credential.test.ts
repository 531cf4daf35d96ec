/**
 * The callers' side: TokexCredential handed to a real Azure SDK client (SecretClient against the
 * HTTPS Key Vault fake), and `tokex get-token`, both against the built local host.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { SecretClient } from '@azure/keyvault-secrets';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokexCredential, TokexExchangeError, targetOf } from '../../client/index.js';
import { FakeKeyVault } from '../fakes/key-vault.js';
import { FakeManagedIdentity } from '../fakes/managed-identity.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { throwawayTls } from '../fakes/tls.js';
import { CLI, freePort, LocalTokex } from '../helpers/local-host.js';
import { tokexCommand } from '../helpers/tokex-command.js';

const run = promisify(execFile);
let idp: FakeIssuer;
let mi: FakeManagedIdentity;
let vault: FakeKeyVault;
let tokex: LocalTokex;

/** The caller's own identity, as a TokenCredential would give it (here: tokens from the fake issuer), counting calls. */
class CallerCredential implements TokenCredential {
  calls = 0;
  constructor(private readonly claims: Record<string, unknown>) {}
  async getToken(scope: string | string[]): Promise<AccessToken> {
    this.calls++;
    expect(scope).toBe('api://tokex/.default');
    return { token: await idp.token({ aud: 'api://tokex', ...this.claims }), expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

beforeAll(async () => {
  [idp, mi, vault] = await Promise.all([FakeIssuer.start(), FakeManagedIdentity.start(), FakeKeyVault.start()]);
  vault.set('db-password', 'from-the-vault');
  tokex = await LocalTokex.start(
    `
issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]
identities:
  vault-reader: { type: managed-identity }
rules:
  - name: jobs
    when: { issuer: idp, claims: { roles: Jobs.Train } }
    grant:
      - { entra: "https://vault.azure.net", identity: vault-reader }
      - { minted: "https://workspace.internal", scopes: [jobs.read, jobs.submit], lifetime: 15m }
`,
    mi.env(),
  );
});
afterAll(async () => {
  await tokex?.stop();
  await Promise.all([idp?.close(), mi?.close(), vault?.close()]);
});

const credential = (caller = new CallerCredential({ sub: 'job', roles: ['Jobs.Train'] })) =>
  new TokexCredential({ endpoint: tokex.url, scope: 'api://tokex/.default', credential: caller });

describe('TokexCredential', () => {
  it('a real SecretClient given a TokexCredential reads a secret; the vault sees the token tokex issued', async () => {
    const client = new SecretClient(vault.url, credential(), { disableChallengeResourceVerification: true, tlsOptions: { ca: throwawayTls().ca } });
    const secret = await client.getSecret('db-password');
    expect(secret.value).toBe('from-the-vault');
    // tokex got it from its managed identity for https://vault.azure.net; the SDK presented exactly that.
    expect(mi.count('https://vault.azure.net')).toBe(1);
    expect([...vault.bearers]).toEqual([mi.issued[0]]);
    const granted = tokex.auditRecords().filter((r) => r.outcome === 'granted');
    expect(granted.at(-1)).toMatchObject({ grant: { kind: 'entra', identity: 'vault-reader' }, request: { target: 'https://vault.azure.net' } });
  });

  it('caches per (resource, scopes) and shares one exchange among concurrent callers', async () => {
    const caller = new CallerCredential({ sub: 'job', roles: ['Jobs.Train'] });
    const cred = credential(caller);
    const before = tokex.auditRecords().length;
    const tokens = await Promise.all(Array.from({ length: 10 }, () => cred.getToken('https://workspace.internal/jobs.read')));
    const again = await cred.getToken(['https://workspace.internal/jobs.read']);
    expect(new Set([...tokens, again].map((t) => t.token)).size).toBe(1);
    expect(caller.calls).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(tokex.auditRecords().length - before).toBe(1);
    expect(again.expiresOnTimestamp - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(again.refreshAfterTimestamp).toBe(again.expiresOnTimestamp - 5 * 60_000);
    const { payload } = await jwtVerify(again.token, createRemoteJWKSet(new URL(`${tokex.url}/.well-known/jwks.json`)), {
      audience: 'https://workspace.internal',
    });
    expect(payload.scope).toBe('jobs.read');
    // Another scope set is another token.
    const both = await cred.getToken(['https://workspace.internal/jobs.read', 'https://workspace.internal/jobs.submit']);
    expect(both.token).not.toBe(again.token);
  });

  it('a refusal throws TokexExchangeError with the OAuth code and correlation id, and is not cached', async () => {
    const cred = credential();
    for (let i = 0; i < 2; i++) {
      const error = await cred.getToken('https://elsewhere.internal/.default').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokexExchangeError);
      expect(error).toMatchObject({ error: 'invalid_target', status: 400, refused: true });
      expect((error as TokexExchangeError).correlationId).toMatch(/^[0-9a-f-]{36}$/);
      expect((error as Error).message).toContain((error as TokexExchangeError).correlationId);
    }
  });

  it('tokex unreachable: a retryable network_error', async () => {
    const cred = new TokexCredential({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      scope: 'api://tokex/.default',
      credential: new CallerCredential({ sub: 'x' }),
    });
    const error = await cred.getToken('https://workspace.internal/.default').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TokexExchangeError', error: 'network_error', refused: false });
  });

  it('maps Azure SDK scopes to a tokex target', () => {
    expect(targetOf('https://vault.azure.net/.default')).toEqual({ resource: 'https://vault.azure.net', scope: undefined });
    expect(targetOf(['https://w.internal/a', 'https://w.internal/b'])).toEqual({ resource: 'https://w.internal', scope: 'a b' });
    expect(targetOf('api://my-api/.default')).toEqual({ resource: 'api://my-api', scope: undefined });
    expect(() => targetOf(['https://a/x', 'https://b/y'])).toThrow(/same resource/);
    expect(() => targetOf('jobs.read')).toThrow(/does not name a resource/);
    expect(() => targetOf(['https://a/.default', 'https://a/x'])).toThrow(/cannot be combined/);
  });
});

describe('tokex get-token', () => {
  /** In this process (the code the built command runs), or as the built command. */
  async function cli(args: string[], subject?: string, built = false): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...(subject && { TOKEX_SUBJECT_TOKEN: subject }) };
    if (!built) return tokexCommand(['get-token', ...args], { cwd: tokex.dir, env });
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, 'get-token', ...args], { env: { PATH: process.env.PATH!, ...env } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }
  const subject = () => idp.token({ sub: 'batch', aud: 'api://tokex', roles: ['Jobs.Train'] });

  it('--output token: only the token on stdout (the built command)', async () => {
    const { code, stdout, stderr } = await cli(
      ['--endpoint', tokex.url, '--audience', 'https://workspace.internal', '--scope', 'jobs.submit'],
      await subject(),
      true,
    );
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout.trim().split('.')).toHaveLength(3);
    const { payload } = await jwtVerify(stdout.trim(), createRemoteJWKSet(new URL(`${tokex.url}/.well-known/jwks.json`)), {
      audience: 'https://workspace.internal',
    });
    expect(payload).toMatchObject({ sub: 'idp:batch', scope: 'jobs.submit' });
  });

  it('--output json and --output env', async () => {
    const json = await cli(['--endpoint', tokex.url, '--resource', 'https://workspace.internal', '--output', 'json'], await subject());
    expect(JSON.parse(json.stdout)).toMatchObject({ token_type: 'Bearer', scope: 'jobs.read jobs.submit', expires_in: 900 });
    const env = await cli(['--endpoint', tokex.url, '--resource', 'https://workspace.internal', '--output', 'env'], await subject());
    expect(env.code).toBe(0);
    const { stdout } = await run('sh', ['-c', `${env.stdout}\necho "$TOKEX_TOKEN_SCOPE|$TOKEX_EXPIRES_ON|\${#TOKEX_ACCESS_TOKEN}"`]);
    const [scope, expiresOn, length] = stdout.trim().split('|');
    expect(scope).toBe('jobs.read jobs.submit');
    expect(Number(expiresOn)).toBeGreaterThan(Date.now() / 1000 + 800);
    expect(Number(length)).toBeGreaterThan(100);
  });

  it('exit 2 when refused, 3 when unavailable, nothing on stdout (the built command too)', async () => {
    const args = ['--endpoint', tokex.url, '--audience', 'https://elsewhere.internal'];
    const [refused, refusedBuilt] = await Promise.all([cli(args, await subject()), cli(args, await subject(), true)]);
    for (const run of [refused, refusedBuilt]) {
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^tokex: refused: invalid_target \(HTTP 400\): .*correlation id [0-9a-f-]{36}/);
    }
    const down = await cli(['--endpoint', `http://127.0.0.1:${await freePort()}`, '--audience', 'https://workspace.internal'], await subject());
    expect([down.code, down.stdout]).toEqual([3, '']);
    expect(down.stderr).toMatch(/^tokex: unavailable: network_error/);
  });

  it('needs exactly one of --resource and --audience', async () => {
    const neither = await cli(['--endpoint', tokex.url], 'x');
    expect(neither.code).toBe(1);
    expect(neither.stderr).toContain('give --resource or --audience');
    expect(neither.stderr).toContain('Usage: tokex get-token [options]');
    const both = await cli(['--endpoint', tokex.url, '--resource', 'https://a', '--audience', 'b'], 'x');
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/cannot be used with/);
  });
});
