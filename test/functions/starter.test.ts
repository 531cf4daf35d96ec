/**
 * functions/starter.ts and the not-started answers of functions/routes.ts: a failed startup is
 * retried after a doubling backoff, requests meanwhile get 503 + Retry-After (audited on stdout for
 * /token and /credentials), a permanent problem rejects ready(), and the deadline ends a hung start.
 */
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRoutes } from '../../functions/routes.js';
import { Starter } from '../../functions/starter.js';
import type { AuditRecord } from '../../shared/audit/record.js';
import { ConfigError, TokexError } from '../../shared/errors.js';
import type { Tokex } from '../../shared/tokex.js';

const { HttpRequest, InvocationContext } = azureFunctions;
const started = { auditor: { flush: async () => {} } } as unknown as Tokex;
const kvDown = () => new TokexError('downstream_unavailable', 'Key Vault versions of "signing": RestError 403 Forbidden');

/** A start function that fails `failures` times, then succeeds; and a clock the test moves. */
function scripted(failures: (() => Error)[]) {
  let calls = 0;
  const clock = { now: 1_000_000 };
  const start = vi.fn(async () => {
    const fail = failures[calls++];
    if (fail) throw fail();
    return started;
  });
  return { start, clock, now: () => clock.now };
}

afterEach(() => vi.restoreAllMocks());

describe('Starter', () => {
  it('retries a failed startup only after 1 s, then 2 s, 4 s …; requests meanwhile fail fast with Retry-After', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { start, clock, now } = scripted([kvDown, kvDown, kvDown]);
    const starter = new Starter(start, { now });

    await expect(starter.tokex()).rejects.toMatchObject({ reason: 'downstream_unavailable', retryAfter: 1 });
    clock.now += 999;
    await expect(starter.tokex()).rejects.toMatchObject({ retryAfter: 1 });
    expect(start).toHaveBeenCalledTimes(1);

    clock.now += 1;
    await expect(starter.tokex()).rejects.toMatchObject({ retryAfter: 2 });
    expect(start).toHaveBeenCalledTimes(2);
    clock.now += 1_500;
    await expect(starter.tokex()).rejects.toMatchObject({ retryAfter: 1 });
    clock.now += 500;
    await expect(starter.tokex()).rejects.toMatchObject({ retryAfter: 4 });
    expect(start).toHaveBeenCalledTimes(3);

    clock.now += 4_000;
    await expect(starter.tokex()).resolves.toBe(started);
    await expect(starter.tokex()).resolves.toBe(started);
    expect(start).toHaveBeenCalledTimes(4);
  });

  it('the backoff stops doubling at the maximum', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { start, clock, now } = scripted(Array.from({ length: 10 }, () => kvDown));
    const starter = new Starter(start, { now, firstRetryMs: 1_000, maxRetryMs: 8_000 });
    const retryAfters: number[] = [];
    for (let i = 0; i < 6; i++) {
      const err = (await starter.tokex().catch((e: TokexError) => e)) as TokexError;
      retryAfters.push(err.retryAfter!);
      clock.now += err.retryAfter! * 1000;
    }
    expect(retryAfters).toEqual([1, 2, 4, 8, 8, 8]);
  });

  it('concurrent requests share one attempt', async () => {
    const { start, now } = scripted([]);
    const starter = new Starter(start, { now });
    const all = await Promise.all([starter.tokex(), starter.tokex(), starter.tokex()]);
    expect(all).toEqual([started, started, started]);
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('ready(): rejects for bad settings or policy, resolves (to retry later) when Key Vault could not be reached', async () => {
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bad = new Starter(async () => {
      throw new ConfigError('TOKEX_ISSUER: required when running in Azure');
    });
    await expect(bad.ready()).rejects.toThrow(/^TOKEX_ISSUER: required/);

    const unreachable = new Starter(async () => {
      throw new ConfigError('TOKEX_SIGNING_KEY: cannot load Key Vault secret "s" (Key Vault: RestError 403)', { cause: kvDown() });
    });
    await expect(unreachable.ready()).resolves.toBeUndefined();
    // Loud either way: one diagnostic line naming the problem and whether a retry can help.
    const lines = stderr.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'error', message: 'tokex startup failed', permanent: true, error: 'TOKEX_ISSUER: required when running in Azure' }),
      expect.objectContaining({ level: 'error', message: 'tokex startup failed', permanent: false, retryInSeconds: 1 }),
    ]);
  });

  it('a startup that never finishes ends at the deadline and is retried later', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.useFakeTimers();
    try {
      let calls = 0;
      const starter = new Starter(() => (calls++ === 0 ? new Promise<Tokex>(() => {}) : Promise.resolve(started)), {
        deadlineMs: 20_000,
        now: () => Date.now(),
      });
      const first = starter.tokex().catch((e: TokexError) => e);
      await vi.advanceTimersByTimeAsync(20_000);
      expect(await first).toMatchObject({ reason: 'downstream_unavailable', detail: expect.stringContaining('no answer within 20000 ms') });
      await vi.advanceTimersByTimeAsync(1_000);
      await expect(starter.tokex()).resolves.toBe(started);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('routes before startup', () => {
  const down = { tokex: () => Promise.reject(new TokexError('downstream_unavailable', 'tokex is not started (Key Vault: RestError 403)', { retryAfter: 7 })) };
  const call = async (name: string, request: InstanceType<typeof HttpRequest>) => {
    const invocationId = '0b4c3a2e-1f57-4d2b-8a55-0d9e2f7c1b22';
    const route = createRoutes(down).find((r) => r.name === name)!;
    return (await route.handler(request, new InvocationContext({ invocationId, functionName: name }))) as HttpResponseInit;
  };

  it('every route answers 503 temporarily_unavailable with Retry-After; /token and /credentials are audited on stdout', async () => {
    // Audit lines leave through one buffered write to stdout (no console), done before the answer.
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((...args: unknown[]) => {
      (args.find((a) => typeof a === 'function') as (() => void) | undefined)?.();
      return true;
    });
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const answers = [
      await call(
        'token',
        new HttpRequest({ method: 'POST', url: 'https://t/token', body: { string: 'grant_type=x' }, headers: { 'x-forwarded-for': '203.0.113.7' } }),
      ),
      await call(
        'credentials',
        new HttpRequest({ method: 'GET', url: 'https://t/credentials/db', params: { name: 'db' }, headers: { authorization: 'Bearer abc.def.ghi' } }),
      ),
      await call('jwks', new HttpRequest({ method: 'GET', url: 'https://t/.well-known/jwks.json' })),
      await call('metadata', new HttpRequest({ method: 'GET', url: 'https://t/.well-known/oauth-authorization-server' })),
      await call('health', new HttpRequest({ method: 'GET', url: 'https://t/health' })),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.headers).toMatchObject({ 'retry-after': '7', 'cache-control': 'no-store' });
      expect(answer.jsonBody).toMatchObject({ error: 'temporarily_unavailable' });
    }
    const audit = stdout.mock.calls.flatMap((c) => String(c[0]).split('\n').filter(Boolean)).map((l) => JSON.parse(l) as AuditRecord);
    expect(audit).toEqual([
      expect.objectContaining({
        event: 'token.exchange',
        outcome: 'failed',
        reason: 'downstream_unavailable',
        clientIp: '203.0.113.7',
        detail: expect.stringContaining('not started'),
      }),
      expect.objectContaining({ event: 'credential.read', outcome: 'failed', reason: 'downstream_unavailable' }),
    ]);
    expect(JSON.stringify(audit)).not.toContain('abc.def.ghi');
  });
});
