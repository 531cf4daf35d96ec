/**
 * The verified-token cache, proved by counting signature checks (never by timing): a token seen
 * before costs none, and nothing lets a remembered token outlive its key, its issuer's key set,
 * its own `exp`, or turn a refusal into a success.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IssuerConfig } from '../../../shared/caller/issuer-config.js';
import { type IssuerKeys, type KeySetGeneration, remoteIssuerKeys, staticIssuerKeys } from '../../../shared/caller/issuer-keys.js';
import { CallerValidator, type TrustedIssuer } from '../../../shared/caller/validate.js';
import { TokexError } from '../../../shared/errors.js';
import { issuerConfig } from '../../../shared/policy/issuer-config.js';
import { FakeIssuer, type IssuerKey, newRsaKey } from '../../fakes/oidc-issuer.js';

function config(name: string, issuer: string, overrides: Partial<IssuerConfig> = {}): IssuerConfig {
  return { ...issuerConfig({ name, kind: 'oidc', issuer, audience: 'api://tokex' }), ...overrides };
}

/** Static keys whose key set can be replaced, as a refetch would (a stand-in for our own IssuerKeys interface). */
function rotatableKeys(key: IssuerKey, freshForMs = Infinity, now = () => Date.now()): IssuerKeys & { rotate(to: IssuerKey): void } {
  let inner = staticIssuerKeys({ keys: [key.publicJwk] });
  let generation: KeySetGeneration = { freshUntil: now() + freshForMs };
  return {
    getKey: (header, token) => inner.getKey(header, token),
    jwks: () => inner.jwks(),
    generation: () => generation,
    rotate(to) {
      inner = staticIssuerKeys({ keys: [to.publicJwk] });
      generation = { freshUntil: now() + freshForMs };
    },
  };
}

async function reasonOf(v: CallerValidator, token: string): Promise<string> {
  try {
    await v.validate(token);
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(TokexError);
    return (err as TokexError).reason;
  }
}

let idp: FakeIssuer;
let other: FakeIssuer;
beforeAll(async () => {
  idp = await FakeIssuer.start({ path: '/a' });
  other = await FakeIssuer.start({ path: '/b' });
});
afterAll(async () => Promise.all([idp.close(), other.close()]));
afterEach(() => vi.useRealTimers());

const good = (fake: FakeIssuer, claims: Record<string, unknown> = {}, expiresIn = 3600) =>
  fake.token({ sub: 'svc', aud: 'api://tokex', ...claims }, { expiresIn });
const staticIssuer = (fake: FakeIssuer): TrustedIssuer => ({ config: config(fake === idp ? 'a' : 'b', fake.issuer), keys: staticIssuerKeys(fake.jwks()) });

describe('verified-token cache', () => {
  it('the same token twice: one signature verification, the same caller', async () => {
    const v = new CallerValidator([staticIssuer(idp)]);
    const token = await good(idp);
    const first = await v.validate(token);
    const second = await v.validate(token);
    expect(second).toBe(first);
    expect(v.stats).toEqual({ signatureChecks: 1, remembered: 1 });
    // Shared between requests, so nobody can change what was verified.
    expect(Object.isFrozen(second) && Object.isFrozen(second.claims)).toBe(true);
  });

  it('with the cache off (0 entries) every presentation is verified', async () => {
    const v = new CallerValidator([staticIssuer(idp)], { verifiedTokenCacheEntries: 0 });
    const token = await good(idp);
    await v.validate(token);
    await v.validate(token);
    expect(v.stats).toEqual({ signatureChecks: 2, remembered: 0 });
  });

  it('a refusal is never remembered as a success: refused again, verified again', async () => {
    const v = new CallerValidator([staticIssuer(idp)]);
    const wrongAudience = await good(idp, { aud: 'api://other' });
    expect(await reasonOf(v, wrongAudience)).toBe('wrong_audience');
    expect(await reasonOf(v, wrongAudience)).toBe('wrong_audience');
    expect(v.stats).toEqual({ signatureChecks: 2, remembered: 0 });
  });

  it('time claims are re-checked on every use: a clock set back refuses a remembered token, naming its caller', async () => {
    let now = Date.now();
    const v = new CallerValidator([staticIssuer(idp)], { now: () => now });
    const token = await good(idp);
    await v.validate(token);
    now -= 5 * 60_000; // nbf/iat are now 5 minutes in the future, beyond the 60 s tolerance
    // The caller is reported to the trace (the audit trail) before the time check refuses it.
    let named: string | undefined;
    const refusal = await v
      .validate(token, {
        trace: {
          caller: (c) => {
            named = c.subject;
          },
        },
      })
      .catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(TokexError);
    expect((refusal as TokexError).reason).toBe('not_yet_valid');
    expect(named).toBe('svc');
    expect(v.stats).toEqual({ signatureChecks: 1, remembered: 1 });
  });

  it("an entry lasts until the token's exp, then the token is checked in full (and refused once past the tolerance)", async () => {
    let now = Date.now();
    const v = new CallerValidator([staticIssuer(idp)], { now: () => now });
    const token = await good(idp, {}, 120);
    await v.validate(token);
    now += 119_000;
    await v.validate(token);
    expect(v.stats).toEqual({ signatureChecks: 1, remembered: 1 });
    now += 2_000; // past exp, inside the tolerance: verified afresh, still accepted
    expect(await reasonOf(v, token)).toBe('accepted');
    now += 60_000;
    expect(await reasonOf(v, token)).toBe('expired');
    expect(v.stats).toEqual({ signatureChecks: 3, remembered: 1 });
  });

  it('an entry does not outlive its key set: a rotation drops it, and the old key no longer vouches for the token', async () => {
    const k1 = await newRsaKey('k1');
    const keys = rotatableKeys(k1);
    const v = new CallerValidator([{ config: config('a', idp.issuer), keys }]);
    const token = await idp.token({ sub: 'svc', aud: 'api://tokex' }, { key: k1 });
    await v.validate(token);
    await v.validate(token);
    keys.rotate(await newRsaKey('k2'));
    expect(await reasonOf(v, token)).toBe('unknown_key');
    expect(v.stats).toEqual({ signatureChecks: 2, remembered: 1 });
  });

  it('an entry lasts at most until its key set is due for a refetch (fetch time + JWKS lifetime)', async () => {
    let now = Date.now();
    const k1 = await newRsaKey('k1');
    const v = new CallerValidator([{ config: config('a', idp.issuer), keys: rotatableKeys(k1, 1_000, () => now) }], { now: () => now });
    const token = await idp.token({ sub: 'svc', aud: 'api://tokex' }, { key: k1 });
    await v.validate(token);
    now += 999;
    await v.validate(token);
    now += 1;
    await v.validate(token);
    expect(v.stats).toEqual({ signatureChecks: 2, remembered: 1 });
  });

  it("per issuer entry: a rotation at one issuer leaves the other issuer's entries alone", async () => {
    const ka = await newRsaKey('ka');
    const kb = await newRsaKey('kb');
    const a = rotatableKeys(ka);
    const v = new CallerValidator([
      { config: config('a', idp.issuer), keys: a },
      { config: config('b', other.issuer), keys: rotatableKeys(kb) },
    ]);
    const fromA = await idp.token({ sub: 'svc', aud: 'api://tokex' }, { key: ka });
    const fromB = await other.token({ sub: 'svc', aud: 'api://tokex' }, { key: kb });
    expect((await v.validate(fromA)).issuerName).toBe('a');
    expect((await v.validate(fromB)).issuerName).toBe('b');
    a.rotate(await newRsaKey('ka2'));
    expect(await reasonOf(v, fromA)).toBe('unknown_key');
    expect((await v.validate(fromB)).issuerName).toBe('b');
    expect(v.stats).toEqual({ signatureChecks: 3, remembered: 1 });
  });

  it('bounded: beyond its size the least recently used token is verified again', async () => {
    const v = new CallerValidator([staticIssuer(idp)], { verifiedTokenCacheEntries: 2 });
    const [t1, t2, t3] = await Promise.all([1, 2, 3].map((n) => good(idp, { n })));
    for (const t of [t1!, t2!, t3!]) await v.validate(t);
    await v.validate(t3!);
    await v.validate(t1!);
    expect(v.stats).toEqual({ signatureChecks: 4, remembered: 1 });
  });

  it('a policy change builds a new validator, which remembers nothing', async () => {
    const token = await good(idp);
    await new CallerValidator([staticIssuer(idp)]).validate(token);
    const reloaded = new CallerValidator([staticIssuer(idp)]);
    await reloaded.validate(token);
    expect(reloaded.stats).toEqual({ signatureChecks: 1, remembered: 0 });
  });

  it('with a real JWKS endpoint: a refetch that drops the key refuses a token remembered under it', async () => {
    const c = config('a', idp.issuer, { jwksUri: idp.jwksUri });
    const v = new CallerValidator([{ config: c, keys: remoteIssuerKeys(c) }]);
    const token = await good(idp, {}, 7200);
    await v.validate(token);
    await v.validate(token);
    expect(v.stats).toEqual({ signatureChecks: 1, remembered: 1 });
    // The issuer rotates: k1 is withdrawn, k2 published. A token under k2 makes tokex refetch (after the cooldown).
    const k1 = idp.keys[0]!;
    const k2 = await newRsaKey('k2');
    idp.keys.splice(0, idp.keys.length, k2);
    try {
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 31_000 });
      expect(await reasonOf(v, await idp.token({ sub: 'new', aud: 'api://tokex' }, { key: k2, expiresIn: 7200 }))).toBe('accepted');
      expect(await reasonOf(v, token)).toBe('unknown_key');
    } finally {
      idp.keys.splice(0, idp.keys.length, k1);
    }
  });
});
