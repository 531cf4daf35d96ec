import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IssuerConfig } from '../../../shared/caller/issuer-config.js';
import { remoteIssuerKeys } from '../../../shared/caller/issuer-keys.js';
import { CallerValidator } from '../../../shared/caller/validate.js';
import { TokexError } from '../../../shared/errors.js';
import { issuerConfig } from '../../../shared/policy/issuer-config.js';
import { b64u, FakeIssuer, newRsaKey } from '../../fakes/oidc-issuer.js';
import { rsaKeyPair } from '../../fakes/rsa-keys.js';

let idp: FakeIssuer;
beforeAll(async () => {
  idp = await FakeIssuer.start({ path: '/tenant-a' });
});
afterAll(() => idp.close());
afterEach(() => {
  idp.mode = 'ok';
  vi.useRealTimers();
});

function config(overrides: Partial<IssuerConfig> = {}): IssuerConfig {
  const issuer = overrides.issuer ?? idp.issuer;
  return { ...issuerConfig({ name: 'idp', kind: 'oidc', issuer, audience: 'api://tokex' }), ...overrides };
}

function validator(overrides: Partial<IssuerConfig> = {}): CallerValidator {
  const c = config(overrides);
  // A short fetch deadline: the hanging-JWKS case ends in half a second, not five.
  return new CallerValidator([{ config: c, keys: remoteIssuerKeys(c, undefined, 500) }]);
}

async function reasonOf(v: CallerValidator, token: string): Promise<string> {
  try {
    await v.validate(token);
  } catch (err) {
    expect(err).toBeInstanceOf(TokexError);
    return (err as TokexError).reason;
  }
  return 'accepted';
}

const good = (claims: Record<string, unknown> = {}, options: Parameters<FakeIssuer['token']>[1] = {}) =>
  idp.token({ sub: 'svc', aud: 'api://tokex', ...claims }, options);

describe('keys', () => {
  it('finds the JWKS by OIDC discovery and fetches each once for many tokens', async () => {
    const before = { ...idp.hits };
    const v = validator();
    for (let i = 0; i < 5; i++) await v.validate(await good({ n: i }));
    expect(idp.hits.discovery - before.discovery).toBe(1);
    expect(idp.hits.jwks - before.jwks).toBe(1);
  });

  it('uses a configured jwksUri without discovery', async () => {
    const before = { ...idp.hits };
    const caller = await validator({ jwksUri: idp.jwksUri }).validate(await good());
    expect(caller.subject).toBe('svc');
    expect(idp.hits.discovery).toBe(before.discovery);
  });

  it('an unknown kid refetches once per cooldown, and concurrent misses share that fetch', async () => {
    const v = validator({ jwksUri: idp.jwksUri });
    await v.validate(await good());
    const fresh = await idp.addKey(`rotated-${Date.now()}`);
    const before = idp.hits.jwks;
    // Within the 30 s cooldown after the first fetch: refused without fetching.
    expect(await reasonOf(v, await good({}, { key: fresh }))).toBe('unknown_key');
    expect(idp.hits.jwks).toBe(before);
    // After the cooldown: eight concurrent misses, one fetch, all accepted.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 31_000 });
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => good({ n: i }, { key: fresh, expiresIn: 7200 })));
    const results = await Promise.all(tokens.map((t) => reasonOf(v, t)));
    expect(results).toEqual(Array(8).fill('accepted'));
    expect(idp.hits.jwks).toBe(before + 1);
    idp.keys.pop();
  });

  it('keeps using known keys while the JWKS endpoint is down, and unknown kids are refused, not 503', async () => {
    const v = validator({ jwksUri: idp.jwksUri });
    await v.validate(await good());
    idp.mode = 'down';
    // Past the cache age, jose must refetch; the fetch fails and the last good keys answer.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11 * 60_000 });
    expect(await reasonOf(v, await good({}, { expiresIn: 7200 }))).toBe('accepted');
    const stranger = await newRsaKey('never-published');
    expect(await reasonOf(v, await good({}, { key: stranger, expiresIn: 7200 }))).toBe('unknown_key');
  });

  it('stops trusting cached keys 24 h after they were last fetched', async () => {
    const v = validator({ jwksUri: idp.jwksUri });
    await v.validate(await good());
    idp.mode = 'down';
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 25 * 3600_000 });
    expect(await reasonOf(v, await good({}, { expiresIn: 26 * 3600 }))).toBe('downstream_unavailable');
  });

  it('a JWKS endpoint that is down, hangs, or sends garbage or 200 KiB is downstream_unavailable (a hang ends at the fetch deadline)', async () => {
    for (const mode of ['down', 'garbage', 'huge'] as const) {
      idp.mode = mode;
      expect(await reasonOf(validator({ jwksUri: idp.jwksUri }), await good())).toBe('downstream_unavailable');
    }
    idp.mode = 'hang';
    expect(await reasonOf(validator({ jwksUri: idp.jwksUri }), await good())).toBe('downstream_unavailable');
  }, 20_000);

  it('refuses discovery whose issuer is not the configured one', async () => {
    const other = await FakeIssuer.start({ discoveryIssuer: 'https://evil.example' });
    const c = config({ issuer: other.issuer });
    const v = new CallerValidator([{ config: c, keys: remoteIssuerKeys(c) }]);
    expect(await reasonOf(v, await other.token({ sub: 'x', aud: 'api://tokex' }))).toBe('downstream_unavailable');
    expect(other.hits.jwks).toBe(0);
    await other.close();
  });
});

describe('generic rules (RFC 8725)', () => {
  const v = () => validator({ jwksUri: idp.jwksUri });

  it('accepts a good token and describes the caller', async () => {
    const caller = await v().validate(await good({ azp: 'app-1', roles: ['R'] }));
    expect(caller).toMatchObject({ issuerName: 'idp', subject: 'svc', appId: 'app-1', kind: 'app' });
  });

  it('refuses header parameters that carry or point at keys, and crit', async () => {
    const attacker = await FakeIssuer.start();
    for (const extra of [
      { jku: attacker.jwksUri },
      { x5u: `${attacker.origin}/cert.pem` },
      { jwk: attacker.key.publicJwk },
      { x5c: ['MIIB'] },
      { crit: ['exp'] },
      { crit: ['x-ext'], 'x-ext': 1 },
    ]) {
      const token = idp.signRaw({ alg: 'RS256', kid: 'k1', ...extra }, idp.claims({ sub: 'svc', aud: 'api://tokex' }));
      expect(await reasonOf(v(), token)).toBe('forbidden_header');
    }
    expect(attacker.hits).toEqual({ discovery: 0, jwks: 0, other: 0 });
    await attacker.close();
  });

  it('refuses algorithms outside the issuer allow-list, and unsigned tokens', async () => {
    const { privateKey } = rsaKeyPair();
    const ps256 = await new SignJWT({ sub: 'svc', aud: 'api://tokex', iss: idp.issuer, exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'PS256', kid: 'k1' })
      .sign(privateKey);
    expect(await reasonOf(v(), ps256)).toBe('algorithm_not_allowed');
    const none = `${b64u({ alg: 'none' })}.${b64u({ sub: 'svc', aud: 'api://tokex', iss: idp.issuer, exp: 9999999999 })}.`;
    expect(await reasonOf(v(), none)).toBe('algorithm_not_allowed');
  });

  it('checks typ: absent or JWT (any case, application/ prefix) passes; at+jwt does not', async () => {
    expect(await reasonOf(v(), await good({}, { header: { typ: undefined } }))).toBe('accepted');
    expect(await reasonOf(v(), await good({}, { header: { typ: 'jwt' } }))).toBe('accepted');
    expect(await reasonOf(v(), await good({}, { header: { typ: 'application/JWT' } }))).toBe('accepted');
    expect(await reasonOf(v(), await good({}, { header: { typ: 'at+jwt' } }))).toBe('token_type_not_allowed');
    expect(await reasonOf(validator({ jwksUri: idp.jwksUri, types: ['AT+JWT'] }), await good({}, { header: { typ: 'at+jwt' } }))).toBe('accepted');
  });

  it('applies the 60 s clock tolerance to exp, nbf and iat', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await reasonOf(v(), await good({ exp: now - 30 }))).toBe('accepted');
    expect(await reasonOf(v(), await good({ exp: now - 90 }))).toBe('expired');
    expect(await reasonOf(v(), await good({ nbf: now + 30 }))).toBe('accepted');
    expect(await reasonOf(v(), await good({ nbf: now + 90 }))).toBe('not_yet_valid');
    expect(await reasonOf(v(), await good({ iat: now + 90 }))).toBe('not_yet_valid');
  });

  it('requires exp and aud, and a single exact aud', async () => {
    expect(await reasonOf(v(), await good({ exp: undefined }))).toBe('missing_claim');
    expect(await reasonOf(v(), await good({ exp: 'tomorrow' }))).toBe('malformed_token');
    expect(await reasonOf(v(), await good({ aud: undefined }))).toBe('missing_claim');
    expect(await reasonOf(v(), await good({ aud: ['api://tokex'] }))).toBe('wrong_audience');
    expect(await reasonOf(v(), await good({ aud: 'api://tokex/' }))).toBe('wrong_audience');
    expect(await reasonOf(v(), await good({ aud: 'API://TOKEX' }))).toBe('wrong_audience');
  });

  it('refuses a bad signature and an unknown issuer', async () => {
    const token = await good();
    const [h, p, s] = token.split('.');
    const flipped = `${s!.slice(0, 10)}${s![10] === 'A' ? 'B' : 'A'}${s!.slice(11)}`;
    expect(await reasonOf(v(), `${h}.${p}.${flipped}`)).toBe('invalid_signature');
    expect(await reasonOf(v(), await good({ iss: `${idp.issuer}/` }))).toBe('unknown_issuer');
  });

  it('refuses what is not exactly a compact JWS', async () => {
    const token = await good();
    const [h, p, s] = token.split('.');
    expect(await reasonOf(v(), `${h}.${p}`)).toBe('malformed_token');
    expect(await reasonOf(v(), `${h}.${p}.${s}.x.y`)).toBe('malformed_token');
    expect(await reasonOf(v(), `${h}=.${p}.${s}`)).toBe('malformed_token');
    expect(await reasonOf(v(), `${h}.${p}.${s} `)).toBe('malformed_token');
    expect(await reasonOf(v(), JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] }))).toBe('malformed_token');
    expect(await reasonOf(v(), `${b64u('{"alg":"RS256","alg":"none"}')}.${p}.${s}`)).toBe('malformed_token');
    expect(await reasonOf(v(), `${h}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${s}`)).toBe('malformed_token');
    expect(await reasonOf(v(), `${b64u('[1]')}.${p}.${s}`)).toBe('malformed_token');
    expect(await reasonOf(v(), 'x'.repeat(16 * 1024 + 1))).toBe('token_too_large');
  });
});
