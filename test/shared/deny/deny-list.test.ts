/**
 * The kill switch against the Key Vault fake through the real SecretClient: the deny-list is read at
 * startup (none: no start), re-read on the 30 s schedule (driven here, not waited for), edited by
 * `tokex deny`'s code through the same client, and a read failure keeps the last good copy.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedIdentityCredential } from '@azure/identity';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { editDenyList } from '../../../cli/deny-commands.js';
import { fileDenyListSource, keyVaultDenyListSource, type Schedule } from '../../../shared/deny/watcher.js';
import { ConfigError, TokexError } from '../../../shared/errors.js';
import { KeyVaultSecretStore } from '../../../shared/keyvault/key-vault-store.js';
import { log } from '../../../shared/log.js';
import { FakeKeyVault } from '../../fakes/key-vault.js';
import { FakeManagedIdentity } from '../../fakes/managed-identity.js';
import { FakeIssuer } from '../../fakes/oidc-issuer.js';
import { InProcessTokex } from '../../helpers/in-process.js';
import { exchangeForm } from '../../helpers/local-host.js';

const DENY = 'tokex-deny';
let idp: FakeIssuer;
let mi: FakeManagedIdentity;
let vault: FakeKeyVault;
const started: InProcessTokex[] = [];
const warnings: string[] = [];

beforeAll(async () => {
  [idp, mi, vault] = await Promise.all([FakeIssuer.start(), FakeManagedIdentity.start(), FakeKeyVault.start()]);
  // Read when the first ManagedIdentityCredential is used (reference notes §2).
  Object.assign(process.env, mi.env());
  log.subscribe((level, message) => void (level === 'warn' && warnings.push(message)));
});
afterAll(() => Promise.all([idp?.close(), mi?.close(), vault?.close()]));
afterEach(async () => {
  for (const core of started.splice(0)) await core.stop();
});
beforeEach(() => vault.set('storage-key', 'value-1'));

const policy = () => `
issuers: [{ name: idp, issuer: "${idp.issuer}", audience: api://tokex }]
identities: { ml: { type: managed-identity } }
rules:
  - name: jobs
    when: { issuer: idp, claims: { sub: "job-*" } }
    grant:
      - minted: https://w.internal
        scopes: [a]
      - entra: https://ml.azure.com
        identity: ml
      - secrets: [storage-key]
`;

/** The same SecretClient the server and `tokex deny` use (the run's throwaway CA is trusted from process start). */
const store = () => new KeyVaultSecretStore(vault.url, new ManagedIdentityCredential());

interface Started {
  core: InProcessTokex;
  /** Runs the scheduled refresh now, as the 30 s timer would. */
  tick: () => Promise<void>;
  intervalMs: number;
}

async function start(): Promise<Started> {
  const scheduled: { tick?: () => Promise<void>; ms?: number } = {};
  const schedule: Schedule = (tick, ms) => {
    Object.assign(scheduled, { tick, ms });
    return () => {};
  };
  const core = await InProcessTokex.start(policy(), { KEY_VAULT_URL: vault.url, TOKEX_DENY_LIST: `kv:${DENY}` }, { denyListSchedule: schedule });
  started.push(core);
  return { core, tick: () => scheduled.tick!(), intervalMs: scheduled.ms! };
}

const exchange = async (core: InProcessTokex, target: Record<string, string>, sub = 'job-1') =>
  core.exchange(exchangeForm(await idp.token({ sub, aud: 'api://tokex' }), target));
const credential = async (core: InProcessTokex, sub = 'job-1') => core.credential('storage-key', `Bearer ${await idp.token({ sub, aud: 'api://tokex' })}`);

describe('TOKEX_DENY_LIST in Key Vault', () => {
  it('with no deny-list to read, startup fails naming the setting', async () => {
    vault.secrets.delete(DENY);
    await expect(start()).rejects.toThrow(ConfigError);
    await expect(start()).rejects.toThrow(/^TOKEX_DENY_LIST: kv:tokex-deny: the Key Vault secret does not exist/);
    // Unreadable is worth a retry (the cause says why); unparsable is a setting to fix.
    expect(((await start().catch((e: unknown) => e)) as Error).cause).toBeInstanceOf(TokexError);
    vault.set(DENY, '{"callers": "everyone"}');
    const bad = (await start().catch((e: unknown) => e)) as Error;
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.message).toMatch(/^TOKEX_DENY_LIST: kv:tokex-deny: the deny-list is not valid \(callers: /);
    expect(bad.cause).toBeUndefined();
  });

  it('a deny takes effect at the next 30 s refresh, without a restart, on both endpoints; a cached Entra token is not handed out', async () => {
    vault.set(DENY, '{}');
    const { core, tick, intervalMs } = await start();
    expect(intervalMs).toBe(30_000);
    expect((await exchange(core, { audience: 'https://w.internal' })).status).toBe(200);
    expect((await exchange(core, { resource: 'https://ml.azure.com' })).status).toBe(200);
    expect((await credential(core)).status).toBe(200);
    const entraCalls = mi.count('https://ml.azure.com');

    // `tokex deny add --caller idp --sub job-1`, through the same SecretClient.
    const writes = vault.writes.get(DENY) ?? 0;
    await editDenyList(keyVaultDenyListSource(store(), DENY), 'add', { caller: { issuer: 'idp', sub: 'job-1' } });
    expect(vault.writes.get(DENY)).toBe(writes + 1);
    expect(JSON.parse(vault.secrets.get(DENY)!.at(-1)!.value)).toEqual({ callers: [{ issuer: 'idp', sub: 'job-1' }], issuers: [], rules: [] });
    await tick();

    const minted = await exchange(core, { audience: 'https://w.internal' });
    expect(minted).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(core.auditRecords().at(-1)).toMatchObject({
      outcome: 'denied',
      reason: 'caller_denied',
      detail: 'caller idp sub "job-1" is on the deny-list',
      caller: { subject: 'job-1' },
    });
    const entra = await exchange(core, { resource: 'https://ml.azure.com' });
    expect(entra.status).toBe(400);
    expect(JSON.stringify(entra.body)).not.toContain('access_token');
    expect(mi.count('https://ml.azure.com')).toBe(entraCalls);
    const secret = await credential(core);
    expect(secret).toMatchObject({ status: 403, body: { error: 'access_denied' } });
    expect(core.auditRecords().at(-1)).toMatchObject({ event: 'credential.read', reason: 'caller_denied' });
    // Another caller is unaffected.
    expect((await exchange(core, { audience: 'https://w.internal' }, 'job-2')).status).toBe(200);

    // A whole rule, then lifting both.
    await editDenyList(keyVaultDenyListSource(store(), DENY), 'add', { rule: 'jobs' });
    await tick();
    expect((await exchange(core, { audience: 'https://w.internal' }, 'job-2')).status).toBe(400);
    expect(core.auditRecords().at(-1)).toMatchObject({ reason: 'caller_denied', detail: 'rule jobs is on the deny-list' });
    await editDenyList(keyVaultDenyListSource(store(), DENY), 'remove', { rule: 'jobs' });
    await editDenyList(keyVaultDenyListSource(store(), DENY), 'remove', { caller: { issuer: 'idp', sub: 'job-1' } });
    await tick();
    expect((await exchange(core, { audience: 'https://w.internal' })).status).toBe(200);
  });

  it('when the deny-list cannot be read, the last good copy stays in force, with a log line', async () => {
    vault.set(DENY, JSON.stringify({ issuers: ['idp'] }));
    const { core, tick } = await start();
    expect((await exchange(core, { audience: 'https://w.internal' })).status).toBe(400);
    vault.faults.set(DENY, '500');
    warnings.length = 0;
    await tick();
    expect(warnings).toContain('deny-list could not be read; keeping the last good copy');
    expect((await exchange(core, { audience: 'https://w.internal' })).status).toBe(400);
    expect(core.auditRecords().at(-1)).toMatchObject({ reason: 'caller_denied', detail: 'issuer idp is on the deny-list' });
    vault.faults.delete(DENY);
    vault.set(DENY, '{}');
    await tick();
    expect((await exchange(core, { audience: 'https://w.internal' })).status).toBe(200);
  });
});

describe('TOKEX_DENY_LIST as a file', () => {
  it('works the same: denied after the refresh, lifted after the next', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tokex-deny-file-')), 'deny.json');
    writeFileSync(file, '{}');
    let tick: (() => Promise<void>) | undefined;
    const core = await InProcessTokex.start(
      policy(),
      { TOKEX_DENY_LIST: file },
      {
        denyListSchedule: (t) => {
          tick = t;
          return () => {};
        },
      },
    );
    started.push(core);
    expect((await exchange(core, { audience: 'https://w.internal' })).status).toBe(200);
    await editDenyList(fileDenyListSource(file), 'add', { issuer: 'idp' });
    await tick!();
    expect(await exchange(core, { audience: 'https://w.internal' })).toMatchObject({
      status: 400,
      audit: { reason: 'caller_denied', detail: 'issuer idp is on the deny-list' },
    });
    await editDenyList(fileDenyListSource(file), 'remove', { issuer: 'idp' });
    await tick!();
    expect((await exchange(core, { audience: 'https://w.internal' })).status).toBe(200);
  });
});
