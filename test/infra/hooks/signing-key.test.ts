/**
 * The postprovision hook's signing-key step (infra/hooks/signing-key.mjs) with the real SecretClient
 * against the HTTPS Key Vault fake; a static TokenCredential stands in for azd's, and the clock and
 * sleep are the test's, so ten minutes of 403s take no time.
 */
import { createPrivateKey } from 'node:crypto';
import { Agent } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureSigningKey, SIGNING_KEY_CONTENT_TYPE, SigningKeyError } from '../../../infra/hooks/signing-key.mjs';
import { FakeKeyVault } from '../../fakes/key-vault.js';
import { throwawayTls } from '../../fakes/tls.js';

const credential: TokenCredential = { getToken: async () => ({ token: 'azd-user-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
let vault: FakeKeyVault;

beforeAll(async () => {
  vault = await FakeKeyVault.start();
});
afterAll(async () => vault.close());
afterEach(() => {
  vault.secrets.clear();
  vault.writes.clear();
  vault.forbidden = 0;
  vault.refused = 0;
});

function client(): SecretClient {
  // The fake's CA handed to this client only; the vault sits on localhost, hence no challenge-resource check.
  return new SecretClient(vault.url, credential, {
    agent: new Agent({ ca: throwawayTls().ca }),
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
  });
}

/** A clock that only the sleeps move, and the log lines printed. */
function harness() {
  const state = { time: 0, sleeps: [] as number[], lines: [] as string[] };
  return {
    state,
    options: {
      now: () => state.time,
      sleep: async (ms: number) => {
        state.sleeps.push(ms);
        state.time += ms;
      },
      log: (line: string) => state.lines.push(line),
    },
  };
}

describe('ensureSigningKey', () => {
  it('creates an EC P-256 PKCS#8 PEM secret with content type application/x-pem-file when absent', async () => {
    const { state, options } = harness();
    expect(await ensureSigningKey({ client: client(), secretName: 'tokex-signing', ...options })).toBe('created');
    const [stored] = vault.secrets.get('tokex-signing')!;
    expect(stored!.contentType).toBe(SIGNING_KEY_CONTENT_TYPE);
    expect(stored!.value).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(stored!.value);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(state.sleeps).toEqual([]);
    expect(state.lines).toEqual([`signing key tokex-signing created in ${vault.url} (EC P-256)`]);
    expect(state.lines.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('leaves an existing secret alone', async () => {
    vault.set('tokex-signing', 'existing-key', { contentType: SIGNING_KEY_CONTENT_TYPE });
    const { state, options } = harness();
    expect(await ensureSigningKey({ client: client(), secretName: 'tokex-signing', ...options })).toBe('exists');
    expect(vault.writes.get('tokex-signing')).toBeUndefined();
    expect(vault.secrets.get('tokex-signing')!.map((v) => v.value)).toEqual(['existing-key']);
    expect(state.lines).toEqual([`signing key tokex-signing exists in ${vault.url}: left as it is`]);
  });

  it('retries 403s while the role assignment propagates, backing off 5, 10, 20, 30 s with a progress line each', async () => {
    vault.forbidden = 5;
    const { state, options } = harness();
    expect(await ensureSigningKey({ client: client(), secretName: 'tokex-signing', ...options })).toBe('created');
    expect(vault.refused).toBe(5);
    expect(state.sleeps).toEqual([5_000, 10_000, 20_000, 30_000, 30_000]);
    expect(state.lines).toHaveLength(6);
    expect(state.lines[0]).toBe(`waiting for the Key Vault role assignment to take effect (403 from ${vault.url}; 0 s of up to 600 s); retrying in 5 s`);
    expect(state.lines[4]).toContain('65 s of up to 600 s');
    expect(vault.writes.get('tokex-signing')).toBe(1);
  });

  it('retries a 403 on the write too (read allowed first, write not yet)', async () => {
    const c = client();
    const { state, options } = harness();
    // Let the read through (404), then refuse the write once.
    const original = c.setSecret.bind(c);
    let first = true;
    c.setSecret = (async (...args: Parameters<SecretClient['setSecret']>) => {
      if (first) {
        first = false;
        vault.forbidden = 1;
      }
      return original(...args);
    }) as SecretClient['setSecret'];
    expect(await ensureSigningKey({ client: c, secretName: 'tokex-signing', ...options })).toBe('created');
    expect(vault.refused).toBe(1);
    expect(state.sleeps).toEqual([5_000]);
    expect(vault.secrets.get('tokex-signing')).toHaveLength(1);
  });

  it('gives up after 10 minutes of 403s, saying what to check and how to rerun', async () => {
    vault.forbidden = Number.MAX_SAFE_INTEGER;
    const { state, options } = harness();
    const error = await ensureSigningKey({ client: client(), secretName: 'tokex-signing', ...options }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SigningKeyError);
    expect(error).toMatchObject({ code: 'ACCESS_DENIED' });
    expect((error as Error).message).toMatch(
      /still answers 403 for secret tokex-signing after 5\d\d s: .*Key Vault Secrets Officer.*azd hooks run postprovision/,
    );
    expect(state.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(600_000);
    expect(state.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThan(570_000);
    expect(vault.secrets.has('tokex-signing')).toBe(false);
  });

  it('fails at once, with status and code only, on an error that waiting does not fix', async () => {
    vault.faults.set('tokex-signing', '500');
    const { state, options } = harness();
    try {
      const error = await ensureSigningKey({ client: client(), secretName: 'tokex-signing', ...options }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'VAULT_ERROR', message: `Key Vault ${vault.url} refused secret tokex-signing: 500 InternalError` });
      expect(state.sleeps).toEqual([]);
    } finally {
      vault.faults.delete('tokex-signing');
    }
  });
});
