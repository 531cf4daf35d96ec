/**
 * Issue 11 items seen from outside over HTTP (4, 6, 11, 12, 14, 15) and at load (5, 8): no grant
 * outlives the subject token, bounded audit records, no input gets a 500, integer lifetimes,
 * metadata that reveals no policy, slow clients cut off, duplicate issuers and settings references.
 */
import { connect } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost } from '../../local/host.js';
import { authorizationServerMetadata } from '../../shared/metadata.js';
import { PolicyError, parsePolicy } from '../../shared/policy/load.js';
import { API_CLIENT_ID, FakeEntra, TENANT_A } from '../fakes/entra.js';
import { FakeManagedIdentity } from '../fakes/managed-identity.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { exchangeForm, LocalTokex } from '../helpers/local-host.js';
import { inProcessTokex } from '../helpers/static-keys-core.js';

let idp: FakeIssuer;
let entra: FakeEntra;
let mi: FakeManagedIdentity;
let tokex: LocalTokex;

beforeAll(async () => {
  [idp, entra, mi] = await Promise.all([FakeIssuer.start(), FakeEntra.start(), FakeManagedIdentity.start()]);
  tokex = await LocalTokex.start(
    `
issuers:
  - { name: idp, issuer: "${idp.issuer}", audience: api://tokex }
  - { name: corp, kind: entra, issuer: "${entra.v2(TENANT_A)}", audience: "${API_CLIENT_ID}", jwksUri: "${entra.origin}/keys" }
identities:
  reader: { type: managed-identity }
rules:
  - name: anyone
    when: { issuer: idp }
    grant:
      - { minted: "https://w.internal", scopes: [a, b] }
      - { entra: "https://ml.azure.com", identity: reader }
  - name: corp-apps
    when: { issuer: corp }
    grant: [{ minted: "https://w.internal", scopes: [a] }]
`,
    mi.env(),
  );
}, 60_000);

afterAll(async () => {
  await tokex?.stop();
  await Promise.all([idp?.close(), entra?.close(), mi?.close()]);
});

const now = () => Math.floor(Date.now() / 1000);
async function exchange(token: string, extra: Record<string, string | string[]>) {
  const res = await tokex.exchange(exchangeForm(token, extra));
  return { ...res, audit: await tokex.auditFor(res.headers.get('x-correlation-id')!) };
}

describe('4. no grant outlives the subject token', () => {
  it('a token past its exp but inside the clock tolerance gets no entra token either (400 expired), and Entra is not asked', async () => {
    const valid = await exchange(await idp.token({ sub: 'job', aud: 'api://tokex' }), { resource: 'https://ml.azure.com' });
    expect(valid.status).toBe(200);
    const calls = mi.count('https://ml.azure.com');
    const expired = await exchange(await idp.token({ sub: 'job', aud: 'api://tokex' }, { expiresIn: -20 }), { resource: 'https://ml.azure.com' });
    expect([expired.status, expired.body.error, expired.audit.reason]).toEqual([400, 'invalid_request', 'expired']);
    expect(expired.body).not.toHaveProperty('access_token');
    expect(mi.count('https://ml.azure.com')).toBe(calls);
  });
});

describe('6. bounded audit', () => {
  it('target cut to 1,024 characters, scopes to the first 50 of at most 100 characters, truncated: true, under 8 KiB', async () => {
    const target = `https://w.internal/${'x'.repeat(5000)}`;
    const scopes = Array.from({ length: 50 }, (_, i) => `s${i}-${'y'.repeat(300)}`);
    const res = await exchange(await idp.token({ sub: 'job', aud: 'api://tokex' }), { audience: target, scope: scopes.join(' ') });
    expect([res.status, res.audit.reason]).toEqual([400, 'target_not_allowed']);
    expect(res.audit.request!.target).toBe(target.slice(0, 1024));
    expect(res.audit.request!.scopes).toEqual(scopes.map((s) => s.slice(0, 100)));
    expect(res.audit.request!.truncated).toBe(true);
    expect(JSON.stringify(res.audit).length).toBeLessThan(8 * 1024);
  });

  it('more than 50 scopes is malformed_request, before the policy is consulted', async () => {
    const scopes = Array.from({ length: 51 }, () => 'a');
    const res = await exchange(await idp.token({ sub: 'job', aud: 'api://tokex' }), { audience: 'https://w.internal', scope: scopes.join(' ') });
    expect([res.status, res.body.error, res.audit.reason]).toEqual([400, 'invalid_request', 'malformed_request']);
    expect(res.audit.request).toMatchObject({ target: 'https://w.internal', truncated: true });
    expect(res.audit.request!.scopes).toHaveLength(50);
    expect(res.audit.rule).toBeUndefined();
  });

  it('a request within the limits is audited as sent, without truncated', async () => {
    const res = await exchange(await idp.token({ sub: 'job', aud: 'api://tokex' }), { audience: 'https://w.internal', scope: 'a b' });
    expect(res.status).toBe(200);
    expect(res.audit.request).toEqual({ target: 'https://w.internal', scopes: ['a', 'b'] });
  });
});

describe('11. no input gets a 500', () => {
  it.each([
    ['an empty sub', 'idp', { sub: '' }, 'missing_claim'],
    ['a non-string sub', 'idp', { sub: 42 }, 'malformed_token'],
    ['no sub from an oidc issuer', 'idp', { sub: undefined }, 'missing_claim'],
    ['a non-string oid', 'corp', { oid: { id: 1 } }, 'malformed_token'],
    ['an Entra oid that is not a GUID', 'corp', { oid: 'not-a-guid' }, 'malformed_token'],
  ] as const)('a verified caller with %s: 400 %s', async (_, issuer, claims, reason) => {
    const token = issuer === 'idp' ? await idp.token({ aud: 'api://tokex', ...(claims as Record<string, unknown>) }) : await entra.app(TENANT_A, claims);
    const res = await exchange(token, { audience: 'https://w.internal' });
    expect([res.status, res.body.error, res.audit.reason]).toEqual([400, 'invalid_request', reason]);
  });

  it('a well-formed Host, with or without its default port, is served as before', async () => {
    for (const host of ['localhost:80', 'LOCALHOST', '127.0.0.1:7071', '[::1]:7071']) {
      expect([host, (await raw(`GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).split('\r\n')[0]]).toEqual([host, 'HTTP/1.1 200 OK']);
    }
  });

  it.each([
    ['a malformed Host header', 'POST /token HTTP/1.1\r\nHost: exa mple:1:2\r\n'],
    ['a Host header with userinfo', 'POST /token HTTP/1.1\r\nHost: user@127.0.0.1\r\n'],
    ['an absolute-form request target', 'POST http://evil.example/token HTTP/1.1\r\nHost: 127.0.0.1\r\n'],
  ])('%s: 400 invalid_request with an audit record', async (_, head) => {
    const answer = await raw(`${head}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
    expect(body.error).toBe('invalid_request');
    const correlationId = /x-correlation-id: (\S+)/i.exec(answer)![1]!;
    const record = await tokex.auditFor(correlationId);
    expect(record).toMatchObject({ event: 'token.exchange', outcome: 'denied', reason: 'malformed_request' });
  });
});

describe('12. integer lifetimes', () => {
  it('a subject token with a fractional exp: expires_in, exp and iat are integers', async () => {
    const exp = now() + 300.75;
    const token = idp.signRaw({ alg: 'RS256', typ: 'JWT', kid: 'k1' }, idp.claims({ sub: 'job', aud: 'api://tokex', exp, iat: now() - 0.5 }));
    const res = await exchange(token, { audience: 'https://w.internal' });
    expect(res.status).toBe(200);
    expect(Number.isInteger(res.body.expires_in)).toBe(true);
    const minted = decodeJwt(res.body.access_token as string);
    expect([Number.isInteger(minted.exp), Number.isInteger(minted.iat), minted.exp]).toEqual([true, true, Math.floor(exp)]);
  });
});

describe('14. metadata reveals no policy', () => {
  it('lists no entra resource and no scopes_supported by default', async () => {
    const text = await (await fetch(`${tokex.url}/.well-known/oauth-authorization-server`)).text();
    expect(JSON.parse(text)).not.toHaveProperty('scopes_supported');
    expect(text).not.toContain('ml.azure.com');
    expect(text).not.toContain('w.internal');
  });

  it('TOKEX_PUBLISH_SCOPES=true lists minted scopes, still never an entra resource', async () => {
    const { tokex: core } = await inProcessTokex(
      `
issuers: [{ name: idp, issuer: "https://idp.example", audience: api://tokex }]
identities: { reader: { type: managed-identity } }
rules:
  - name: r
    when: { issuer: idp }
    grant: [{ minted: "https://w.internal", scopes: [b, a] }, { entra: "https://ml.azure.com", identity: reader }]
`,
      { TOKEX_PUBLISH_SCOPES: 'true' },
    );
    const meta = authorizationServerMetadata(core);
    expect(meta.scopes_supported).toEqual(['a', 'b']);
    expect(JSON.stringify(meta)).not.toContain('ml.azure.com');
  });
});

describe('15. slow clients are cut off', () => {
  it('the local host sets 10 s for headers and 30 s for the whole request', async () => {
    const host = await startLocalHost([], { port: 0, host: '127.0.0.1' });
    try {
      expect([host.server.headersTimeout, host.server.requestTimeout]).toEqual([10_000, 30_000]);
    } finally {
      await host.close();
    }
  });

  it('a client that never finishes its headers, or its body, gets 408 and the connection closed', async () => {
    const route = { name: 'token', methods: ['POST' as const], route: 'token', handler: async () => ({ status: 200 }) };
    const host = await startLocalHost([route], { port: 0, host: '127.0.0.1', timeouts: { headersMs: 200, requestMs: 400, checkIntervalMs: 50 } });
    try {
      const port = Number(new URL(host.url).port);
      const slowHeaders = await slowClient(port, 'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const slowBody = await slowClient(port, 'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc');
      expect(slowHeaders).toMatch(/^HTTP\/1\.1 408 /);
      expect(slowBody).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await host.close();
    }
  });
});

describe('5, 8. loading', () => {
  const options = { ownIssuer: 'https://tokex.example', mode: 'local' as const };
  const problems = (text: string, env: Record<string, string> = {}) => {
    try {
      parsePolicy(text, 'policy.yaml', { ...options, env });
      return [];
    } catch (err) {
      if (err instanceof PolicyError) return err.message.split('\n');
      throw err;
    }
  };
  const rules = 'rules: [{ name: r, when: { issuer: a }, grant: [{ minted: "https://w.internal", scopes: [x] }] }]\n';

  it('5. two issuer entries for one issuer URL refuse to load, also when a setting makes them equal', () => {
    const text = `issuers:\n  - { name: a, issuer: "https://idp.example/t1", audience: x }\n  - { name: b, issuer: "https://idp.example/\${TOKEX_TENANT}", audience: y }\n${rules}`;
    expect(problems(text, { TOKEX_TENANT: 't1' })).toEqual(['policy.yaml:3: issuers[1].issuer: same issuer as "a"']);
    expect(problems(text, { TOKEX_TENANT: 't2' })).toEqual([]);
  });

  it('8. a setting is substituted inside the parsed value: newline, #, [, , and : stay in one string; a whole list item stays one item', () => {
    const text = `issuers:\n  - { name: a, issuer: "https://idp.example", audience: "\${TOKEX_AUD}" }\nrules:\n  - name: r\n    when:\n      issuer: a\n      claims:\n        roles:\n          - \${TOKEX_ROLE}\n          - Other\n    grant: [{ minted: "https://w.internal", scopes: [x] }]\n`;
    const hostile = 'api://x\n  - evil # [a, b]: c';
    const policy = parsePolicy(text, 'policy.yaml', { ...options, env: { TOKEX_AUD: hostile, TOKEX_ROLE: 'Admin, Reader: [x] # y' } });
    expect(policy.issuers[0]!.audiences).toEqual([hostile]);
    expect(policy.rules[0]!.conditions[0]!.values).toEqual(['Admin, Reader: [x] # y', 'Other']);
    expect(problems(text.replace('roles:', '${TOKEX_ROLE}:'), { TOKEX_AUD: 'a', TOKEX_ROLE: 'b' })).toEqual([
      'policy.yaml:8: rules[0].when.claims.${TOKEX_ROLE}: ${TOKEX_ROLE}: settings are not substituted in keys',
    ]);
  });
});

/** Sends `request` verbatim (no half-close: the server would drop a half-closed client) and resolves with the answer once the server closes. */
function raw(request: string): Promise<string> {
  const { port, hostname } = new URL(tokex.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** Sends `partial` and then nothing; resolves with the answer once the server closes (bounded: 5 s). */
function slowClient(port: number, partial: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(partial));
    let answer = '';
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept a slow client open'));
    }, 5_000);
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(answer);
    });
    socket.on('error', () => {});
  });
}
