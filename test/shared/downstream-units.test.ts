import { describe, expect, it } from 'vitest';
import { credentialOptions, secretClientOptions } from '../../shared/azure/client-options.js';
import { downstreamFailure } from '../../shared/azure/errors.js';
import { withDeadline } from '../../shared/deadline.js';
import { TokexError } from '../../shared/errors.js';
import { KeyVaultSigningKeys, SIGNING_KEY_REFRESH_MS } from '../../shared/keys/key-vault-signing-keys.js';
import { generateSigningKey } from '../../shared/keys/signing-key.js';
import { CachedSecretStore, SECRET_CACHE_MS } from '../../shared/keyvault/cached-store.js';
import type { KeyVaultSecretStore, SecretVersionInfo } from '../../shared/keyvault/key-vault-store.js';
import type { SecretStore, SecretValue } from '../../shared/keyvault/secret-store.js';

describe('loopback-only relaxations', () => {
  it('challenge-resource verification is off only for a vault on loopback', () => {
    expect(secretClientOptions('https://127.0.0.1:8443').disableChallengeResourceVerification).toBe(true);
    expect(secretClientOptions('https://localhost:8443').disableChallengeResourceVerification).toBe(true);
    expect(secretClientOptions('https://tokex-kv.vault.azure.net').disableChallengeResourceVerification).toBe(false);
    expect(secretClientOptions('https://localhost.evil.example').disableChallengeResourceVerification).toBe(false);
  });

  it('instance discovery is off only for an authority on loopback', () => {
    expect(credentialOptions('https://localhost:9443').disableInstanceDiscovery).toBe(true);
    expect(credentialOptions('https://login.microsoftonline.com').disableInstanceDiscovery).toBeUndefined();
    expect(credentialOptions(undefined).disableInstanceDiscovery).toBeUndefined();
  });

  it('SDK retries stay well inside the 10 s deadline', () => {
    expect(credentialOptions(undefined).retryOptions).toEqual({ maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 3_000 });
  });
});

describe('downstream errors', () => {
  it('keep only name, status and code, and honour Retry-After', () => {
    const err = Object.assign(new Error('secret value s3cr3t echoed by a service'), {
      name: 'RestError',
      statusCode: 429,
      code: 'Throttled',
      response: { headers: { get: (n: string) => (n === 'retry-after' ? '7' : undefined) } },
    });
    const failure = downstreamFailure('Key Vault secret "x"', err);
    expect(failure).toMatchObject({ reason: 'downstream_unavailable', detail: 'Key Vault secret "x": RestError 429 Throttled', retryAfter: 7 });
    expect(failure.message).not.toContain('s3cr3t');
  });

  it('a deadline turns a hang into downstream_unavailable and aborts the work', async () => {
    let aborted = false;
    const error = await withDeadline(
      'hang',
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('x'));
          }),
        ),
      50,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokexError);
    expect((error as TokexError).reason).toBe('downstream_unavailable');
    expect(aborted).toBe(true);
  });
});

class CountingStore implements SecretStore {
  calls = 0;
  constructor(
    private readonly values: Record<string, SecretValue | undefined>,
    private readonly delayMs = 0,
  ) {}
  async get(name: string): Promise<SecretValue | undefined> {
    this.calls++;
    await new Promise((r) => setTimeout(r, this.delayMs));
    return this.values[name];
  }
}

describe('secret cache', () => {
  const secret = (expiresOn: Date | null = null): SecretValue => ({ name: 'a', value: 'v', version: '1', contentType: null, expiresOn, notBefore: null });

  it('shares one read among concurrent misses and keeps the value at most 5 minutes', async () => {
    let now = 1_000_000;
    const inner = new CountingStore({ a: secret() }, 20);
    const cache = new CachedSecretStore(inner, () => now);
    await Promise.all(Array.from({ length: 10 }, () => cache.get('a')));
    expect(inner.calls).toBe(1);
    now += SECRET_CACHE_MS - 1;
    await cache.get('a');
    expect(inner.calls).toBe(1);
    now += 1;
    await cache.get('a');
    expect(inner.calls).toBe(2);
  });

  it('keeps a value no longer than the secret itself lives, and never caches absence', async () => {
    let now = 1_000_000;
    const inner = new CountingStore({ a: secret(new Date(now + 1_000)) });
    const cache = new CachedSecretStore(inner, () => now);
    await cache.get('a');
    now += 1_000;
    await cache.get('a');
    expect(inner.calls).toBe(2);
    await cache.get('missing');
    await cache.get('missing');
    expect(inner.calls).toBe(4);
  });
});

describe('Key Vault signing keys', () => {
  /** A stand-in for the vault's version listing, so the retention rule can be checked at chosen times. */
  function vault(versions: { version: string; createdOn: number; enabled?: boolean }[]) {
    const material = new Map(versions.map((v) => [v.version, JSON.stringify(generateSigningKey())]));
    return {
      versions: async (): Promise<SecretVersionInfo[]> =>
        [...versions]
          .sort((a, b) => b.createdOn - a.createdOn)
          .map((v) => ({ version: v.version, enabled: v.enabled !== false, createdOn: new Date(v.createdOn) })),
      get: async (_: string, o?: { version?: string }) => ({
        name: 's',
        value: material.get(o!.version!)!,
        version: o!.version!,
        contentType: null,
        expiresOn: null,
        notBefore: null,
      }),
    } as unknown as KeyVaultSecretStore;
  }
  const hour = 3_600_000;

  it('publishes a previous version until its successor is older than the longest lifetime plus one refresh', async () => {
    const t0 = 10 * 24 * hour;
    const store = vault([
      { version: 'v1', createdOn: t0 - 48 * hour },
      { version: 'v2', createdOn: t0 - 30 * 60_000 },
      { version: 'v3', createdOn: t0 },
    ]);
    let now = t0 + 1;
    const keys = await KeyVaultSigningKeys.load(store, 's', 3600, () => now);
    // v3 current. v2 signed until a moment ago; v1 until v2 appeared 30 min ago, so 1 h tokens of both may live.
    expect(keys.previous).toHaveLength(2);
    now = t0 - 30 * 60_000 + hour + SIGNING_KEY_REFRESH_MS; // v2 has existed for 1 h + one refresh
    await keys.refresh();
    expect(keys.previous).toHaveLength(1);
    now = t0 + hour + SIGNING_KEY_REFRESH_MS;
    await keys.refresh();
    expect(keys.previous).toHaveLength(0);
    expect(keys.current.kid).toBe((await KeyVaultSigningKeys.load(store, 's', 3600, () => now)).current.kid);
  });

  it('ignores disabled versions; a key this process signed with stays published after a refresh replaces it', async () => {
    const t0 = 10 * 24 * hour;
    const versions = [
      { version: 'v1', createdOn: t0 - 48 * hour },
      { version: 'v2', createdOn: t0, enabled: false },
    ];
    const store = vault(versions);
    let now = t0;
    const keys = await KeyVaultSigningKeys.load(store, 's', 600, () => now);
    const first = keys.current.kid;
    versions[1]!.enabled = true;
    now += 3 * hour; // the successor now looks old, but this process signed with v1 until just now
    await keys.refresh();
    expect(keys.current.kid).not.toBe(first);
    expect(keys.previous.map((k) => k.kid)).toEqual([first]);
    now += 600_000;
    await keys.refresh();
    expect(keys.previous).toHaveLength(0);
  });
});
