/**
 * Every published JWT attack we know of, sent to POST /token's core (exchangeToken, in this process,
 * as the form body a client would send) as a forged subject token, and again as a forged actor token
 * beside a valid subject (delegation). Each must be refused with invalid_request, make no call
 * anywhere (not to the issuer's JWKS beyond the cached fetch, never to an attacker URL), and leave an
 * audit record with the precise reason. What the HTTP host adds (body limits, headers, the host's own
 * refusals) is tested over HTTP in test/http/.
 */
import { createHmac, createPublicKey, randomUUID, sign } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reason } from '../../shared/errors.js';
import { API_CLIENT_ID, entraPolicy, FakeEntra, TENANT_A, TENANT_B } from '../fakes/entra.js';
import { b64u, FakeIssuer } from '../fakes/oidc-issuer.js';
import { rsaKeyPair } from '../fakes/rsa-keys.js';
import { checkExplainAgreement } from '../helpers/explain-agreement.js';
import { InProcessTokex } from '../helpers/in-process.js';
import { exchangeForm, JWT_TYPE } from '../helpers/local-host.js';

let entra: FakeEntra;
let attacker: FakeIssuer;
let tokex: InProcessTokex;
let agreement: Awaited<ReturnType<typeof checkExplainAgreement>>;

beforeAll(async () => {
  entra = await FakeEntra.start();
  attacker = await FakeIssuer.start();
  // Plus a delegation rule, so a forged actor token meets a rule that would otherwise grant.
  tokex = await InProcessTokex.start(`${entraPolicy(entra)}  - name: delegated-apps
    when: { issuer: corp, claims: { roles: Jobs.Train, idtyp: app }, actor: { issuer: corp, claims: { roles: Jobs.Train } } }
    grant:
      - { minted: "https://workspace.internal", scopes: [jobs.submit] }
`);
  // Every exchange below is also put to `policy explain`, which must give the server's answer.
  agreement = await checkExplainAgreement(tokex);
  // Warm each issuer entry's key cache with a good token, so every vector below runs against cached keys.
  const single = await tokex.exchange(exchangeForm(await entra.app(), { audience: 'https://workspace.internal' }));
  const multi = await tokex.exchange(exchangeForm(await entra.app(TENANT_B), { audience: 'https://partner.internal' }));
  const delegated = await tokex.exchange(
    exchangeForm(await entra.app(), { audience: 'https://workspace.internal', actor_token: await entra.app(), actor_token_type: JWT_TYPE }),
  );
  expect([single.status, multi.status, delegated.status]).toEqual([200, 200, 200]);
});
afterAll(async () => {
  await tokex?.stop();
  await Promise.all([entra?.close(), attacker?.close()]);
});

const now = () => Math.floor(Date.now() / 1000);
/** Claims of a valid v2 app token from tenant A. */
function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const oid = randomUUID();
  const c: Record<string, unknown> = {
    iss: entra.v2(TENANT_A),
    aud: API_CLIENT_ID,
    tid: TENANT_A,
    oid,
    sub: oid,
    azp: randomUUID(),
    idtyp: 'app',
    roles: ['Jobs.Train'],
    ver: '2.0',
    iat: now(),
    nbf: now(),
    exp: now() + 3600,
    ...extra,
  };
  for (const [k, v] of Object.entries(c)) if (v === undefined) delete c[k];
  return c;
}
const header = (extra: Record<string, unknown> = {}) => ({ alg: 'RS256', typ: 'JWT', kid: 'k1', ...extra });
/** Every token `signed()` made while the current vector was built: the warm run presents them first. */
let produced: string[] = [];
/** RS256-signed by the real issuer key k1 (or another), from any header and payload. */
const signed = (h: Record<string, unknown> | string = header(), p: Record<string, unknown> | string = claims()) => {
  const token = entra.idp.signRaw(h, p);
  produced.push(token);
  return token;
};
const unsigned = (alg: string) => `${b64u({ alg, typ: 'JWT' })}.${b64u(claims())}.`;
const hmacWith = (secret: Buffer | string, h: Record<string, unknown> = { alg: 'HS256', typ: 'JWT', kid: 'k1' }) => {
  const input = `${b64u(h)}.${b64u(claims())}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};
const publicKey = () => createPublicKey(entra.key('k1').privateKey);
const withSignature = (token: string, f: (sig: string) => string) => {
  const [h, p, s] = token.split('.') as [string, string, string];
  return `${h}.${p}.${f(s)}`;
};
const attackerKey = rsaKeyPair();
const signedBy = (key: import('node:crypto').KeyObject, h: Record<string, unknown>, p = claims()) => {
  const input = `${b64u(h)}.${b64u(p)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
};
const selfSignedCert = `MIIBszCCAVmgAwIBAgIUQ${'A'.repeat(200)}`;

interface Vector {
  readonly name: string;
  readonly token: () => Promise<string> | string;
  readonly reason: Reason;
}

const vectors: Vector[] = [
  // alg none, in every spelling, with and without a signature
  { name: 'alg none', token: () => unsigned('none'), reason: 'algorithm_not_allowed' },
  { name: 'alg None', token: () => unsigned('None'), reason: 'algorithm_not_allowed' },
  { name: 'alg NONE', token: () => unsigned('NONE'), reason: 'algorithm_not_allowed' },
  { name: 'alg nOnE', token: () => unsigned('nOnE'), reason: 'algorithm_not_allowed' },
  { name: 'alg none carrying the original signature', token: () => withSignature(signed(header({ alg: 'none' })), (s) => s), reason: 'algorithm_not_allowed' },
  { name: 'alg missing', token: () => signed({ typ: 'JWT', kid: 'k1' }), reason: 'algorithm_not_allowed' },
  { name: 'alg "rs256" (case variant)', token: () => signed(header({ alg: 'rs256' })), reason: 'algorithm_not_allowed' },
  // signatures stripped, truncated, altered
  { name: 'signature stripped', token: () => withSignature(signed(), () => ''), reason: 'invalid_signature' },
  { name: 'signature truncated', token: () => withSignature(signed(), (s) => s.slice(0, -8)), reason: 'invalid_signature' },
  {
    name: 'signature altered (one character)',
    token: () => withSignature(signed(), (s) => `${s.slice(0, 20)}${s[20] === 'A' ? 'B' : 'A'}${s.slice(21)}`),
    reason: 'invalid_signature',
  },
  { name: 'signature all zero', token: () => withSignature(signed(), () => 'A'.repeat(342)), reason: 'invalid_signature' },
  {
    name: 'payload altered after signing (roles added)',
    token: () => {
      const t = signed(header(), claims({ roles: [] }));
      const [h, , s] = t.split('.');
      return `${h}.${b64u(claims({ roles: ['Jobs.Train', 'Admin'] }))}.${s}`;
    },
    reason: 'invalid_signature',
  },
  // RS256 → HS256 key confusion, the RSA public key as the HMAC secret in every encoding
  {
    name: 'HS256 with the public key PEM as secret',
    token: () => hmacWith(publicKey().export({ type: 'spki', format: 'pem' }) as string),
    reason: 'algorithm_not_allowed',
  },
  {
    name: 'HS256 with the PEM minus its trailing newline',
    token: () => hmacWith((publicKey().export({ type: 'spki', format: 'pem' }) as string).trim()),
    reason: 'algorithm_not_allowed',
  },
  {
    name: 'HS256 with the public key DER as secret',
    token: () => hmacWith(publicKey().export({ type: 'spki', format: 'der' })),
    reason: 'algorithm_not_allowed',
  },
  { name: 'HS256 with the public JWK JSON as secret', token: () => hmacWith(JSON.stringify(entra.key('k1').publicJwk)), reason: 'algorithm_not_allowed' },
  { name: 'HS256 with an empty secret', token: () => hmacWith(''), reason: 'algorithm_not_allowed' },
  // the right key, an algorithm not on the allow-list
  {
    name: "PS256 with the issuer's own key",
    token: () => new SignJWT(claims()).setProtectedHeader({ alg: 'PS256', kid: 'k1' }).sign(entra.key('k1').privateKey),
    reason: 'algorithm_not_allowed',
  },
  {
    name: "RS512 with the issuer's own key",
    token: () => new SignJWT(claims()).setProtectedHeader({ alg: 'RS512', kid: 'k1' }).sign(entra.key('k1').privateKey),
    reason: 'algorithm_not_allowed',
  },
  { name: 'ES256 claimed for an RSA kid', token: () => signed(header({ alg: 'ES256' })), reason: 'algorithm_not_allowed' },
  // headers that carry or point at the attacker's key
  {
    name: 'embedded jwk (attacker key)',
    token: () => signedBy(attackerKey.privateKey, header({ jwk: attackerKey.publicKey.export({ format: 'jwk' }) })),
    reason: 'forbidden_header',
  },
  { name: 'embedded x5c (self-signed cert)', token: () => signedBy(attackerKey.privateKey, header({ x5c: [selfSignedCert] })), reason: 'forbidden_header' },
  {
    name: "jku pointing at the attacker's JWKS",
    token: () => signedBy(attacker.key.privateKey, header({ jku: attacker.jwksUri, kid: attacker.key.kid })),
    reason: 'forbidden_header',
  },
  {
    name: 'x5u pointing at the attacker',
    token: () => signedBy(attacker.key.privateKey, header({ x5u: `${attacker.origin}/cert.pem` })),
    reason: 'forbidden_header',
  },
  // kid injection
  { name: 'kid path traversal', token: () => signed(header({ kid: '../../../../../../dev/null' })), reason: 'unknown_key' },
  {
    name: 'kid /dev/null with HS256 and empty key',
    token: () => hmacWith('', { alg: 'HS256', typ: 'JWT', kid: '/dev/null' }),
    reason: 'algorithm_not_allowed',
  },
  { name: 'kid SQL injection', token: () => signed(header({ kid: "x' UNION SELECT '1';--" })), reason: 'unknown_key' },
  { name: 'kid OR 1=1', token: () => signed(header({ kid: "' OR '1'='1" })), reason: 'unknown_key' },
  { name: 'kid shell injection', token: () => signed(header({ kid: 'k1|sleep 10' })), reason: 'unknown_key' },
  { name: 'kid of 10,000 characters', token: () => signed(header({ kid: 'k'.repeat(10_000) })), reason: 'unknown_key' },
  { name: 'kid empty string', token: () => signed(header({ kid: '' })), reason: 'unknown_key' },
  { name: 'kid a number', token: () => signed(header({ kid: 123 })), reason: 'malformed_token' },
  { name: 'kid an object', token: () => signed(header({ kid: {} })), reason: 'malformed_token' },
  { name: 'kid missing (Entra always names its key)', token: () => signed({ alg: 'RS256', typ: 'JWT' }), reason: 'unknown_key' },
  { name: 'unknown kid signed by the attacker', token: () => signedBy(attackerKey.privateKey, header({ kid: 'attacker' })), reason: 'unknown_key' },
  { name: "the issuer's kid, signed by the attacker", token: () => signedBy(attackerKey.privateKey, header()), reason: 'invalid_signature' },
  // crit
  { name: 'crit naming a registered claim', token: () => signed(header({ crit: ['exp'] })), reason: 'forbidden_header' },
  { name: 'crit naming an unknown extension', token: () => signed(header({ crit: ['x-ext'], 'x-ext': 1 })), reason: 'forbidden_header' },
  { name: 'crit b64:false (unencoded payload)', token: () => signed(header({ crit: ['b64'], b64: false })), reason: 'forbidden_header' },
  { name: 'crit empty list', token: () => signed(header({ crit: [] })), reason: 'forbidden_header' },
  // the wrong kind of token
  {
    name: "tokex's own at+jwt presented as subject token",
    token: async () => {
      const res = await tokex.exchange(exchangeForm(await entra.app(), { audience: 'https://workspace.internal' }));
      return res.body.access_token as string;
    },
    reason: 'unknown_issuer',
  },
  { name: 'typ at+jwt from a trusted issuer', token: () => signed(header({ typ: 'at+jwt' })), reason: 'token_type_not_allowed' },
  {
    name: 'an ID token (aud = client id, nonce claim, no scp/roles)',
    token: () => signed(header(), claims({ roles: undefined, idtyp: undefined, nonce: 'abc' })),
    reason: 'missing_claim',
  },
  { name: 'a Graph-style token (nonce header)', token: () => signed(header({ nonce: 'graph-nonce' })), reason: 'forbidden_header' },
  // time
  {
    name: 'expired beyond the tolerance',
    token: () => signed(header(), claims({ exp: now() - 120, iat: now() - 3720, nbf: now() - 3720 })),
    reason: 'expired',
  },
  { name: 'nbf in the future beyond the tolerance', token: () => signed(header(), claims({ nbf: now() + 600 })), reason: 'not_yet_valid' },
  { name: 'iat in the future beyond the tolerance', token: () => signed(header(), claims({ iat: now() + 600 })), reason: 'not_yet_valid' },
  { name: 'exp missing', token: () => signed(header(), claims({ exp: undefined })), reason: 'missing_claim' },
  { name: 'exp a string', token: () => signed(header(), claims({ exp: String(now() + 3600) })), reason: 'malformed_token' },
  // audience
  { name: 'aud of Microsoft Graph', token: () => signed(header(), claims({ aud: '00000003-0000-0000-c000-000000000000' })), reason: 'wrong_audience' },
  { name: 'aud an array holding the right audience', token: () => signed(header(), claims({ aud: [API_CLIENT_ID, 'api://other'] })), reason: 'wrong_audience' },
  { name: 'aud missing', token: () => signed(header(), claims({ aud: undefined })), reason: 'missing_claim' },
  // issuer and tenant
  {
    name: 'a tenant not on the multi-tenant list',
    token: () =>
      signed(
        header(),
        claims({ iss: `${entra.origin}/${'9'.repeat(8)}-9999-4999-8999-${'9'.repeat(12)}/v2.0`, tid: `${'9'.repeat(8)}-9999-4999-8999-${'9'.repeat(12)}` }),
      ),
    reason: 'tenant_not_allowed',
  },
  {
    name: 'v1 iss when only v2 is configured for the tenant',
    token: () => signed(header(), claims({ iss: `${entra.origin}/sts/${TENANT_B}/`, tid: TENANT_B })),
    reason: 'unknown_issuer',
  },
  {
    name: 'iss with a literal {tenantid}',
    token: () => signed(header(), claims({ iss: `${entra.origin}/{tenantid}/v2.0`, tid: TENANT_B })),
    reason: 'wrong_issuer',
  },
  {
    name: 'iss names tenant B, tid says A (multi-tenant entry)',
    token: () => signed(header(), claims({ iss: entra.v2(TENANT_B), tid: TENANT_A })),
    reason: 'wrong_issuer',
  },
  { name: 'iss names tenant A, tid says B (single-tenant entry)', token: () => signed(header(), claims({ tid: TENANT_B })), reason: 'wrong_issuer' },
  { name: 'tid not a GUID', token: () => signed(header(), claims({ iss: `${entra.origin}/common/v2.0`, tid: 'common' })), reason: 'tenant_not_allowed' },
  { name: 'tid a path traversal', token: () => signed(header(), claims({ tid: '../../x' })), reason: 'tenant_not_allowed' },
  { name: 'iss with a trailing slash', token: () => signed(header(), claims({ iss: `${entra.v2(TENANT_A)}/` })), reason: 'unknown_issuer' },
  { name: 'iss in another case', token: () => signed(header(), claims({ iss: entra.v2(TENANT_A).toUpperCase() })), reason: 'unknown_issuer' },
  { name: 'iss missing', token: () => signed(header(), claims({ iss: undefined })), reason: 'missing_claim' },
  {
    name: 'a key bound to tenant B signing for tenant A',
    token: () => entra.idp.signRaw(header({ kid: 'kB' }), claims(), entra.key('kB')),
    reason: 'wrong_issuer',
  },
  // size and format
  { name: 'a token over 16 KiB', token: () => signed(header(), claims({ pad: 'x'.repeat(17 * 1024) })), reason: 'token_too_large' },
  {
    name: 'JSON-serialized JWS',
    token: () => {
      const [h, p, s] = signed().split('.');
      return JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] });
    },
    reason: 'malformed_token',
  },
  {
    name: 'flattened JSON JWS',
    token: () => {
      const [h, p, s] = signed().split('.');
      return JSON.stringify({ payload: p, protected: h, signature: s });
    },
    reason: 'malformed_token',
  },
  {
    name: 'a 5-segment JWE',
    token: () => `${b64u({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.${'A'.repeat(342)}.${'A'.repeat(16)}.${b64u(claims())}.${'A'.repeat(22)}`,
    reason: 'malformed_token',
  },
  {
    name: 'base64 padding in a segment',
    token: () => {
      const [h, p, s] = signed().split('.');
      return `${h}=.${p}.${s}`;
    },
    reason: 'malformed_token',
  },
  {
    name: 'standard base64 characters (+ /) in the signature',
    token: () => withSignature(signed(), (s) => s.replace(/-/g, '+').replace(/_/g, '/').replace(/^(.)/, '+')),
    reason: 'malformed_token',
  },
  { name: 'whitespace inside the token', token: () => signed().replace('.', ' .'), reason: 'malformed_token' },
  {
    name: 'impossible base64url length',
    token: () => {
      const [h, p, s] = signed().split('.');
      return `${h}.${p}x.${s}`;
    },
    reason: 'malformed_token',
  },
  {
    name: 'invalid UTF-8 in the payload',
    token: () => {
      const [h, , s] = signed().split('.');
      return `${h}.${Buffer.concat([Buffer.from('{"sub":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]).toString('base64url')}.${s}`;
    },
    reason: 'malformed_token',
  },
  { name: 'duplicate header keys (alg RS256, then none)', token: () => signed(`{"alg":"RS256","kid":"k1","alg":"none"}`), reason: 'malformed_token' },
  {
    name: 'duplicate payload keys (aud twice)',
    token: () => signed(header(), JSON.stringify(claims()).replace(/^\{/, `{"aud":"api://evil",`)),
    reason: 'malformed_token',
  },
  { name: 'header not a JSON object', token: () => signed('["RS256"]'), reason: 'malformed_token' },
  { name: 'payload not a JSON object', token: () => signed(header(), '"just a string"'), reason: 'malformed_token' },
];

/** Where the forged token goes: as the subject token, or as the actor token beside a valid subject. */
const positions = {
  subject: async (forged: string) => exchangeForm(forged, { audience: 'https://workspace.internal' }),
  actor: async (forged: string) => exchangeForm(await entra.app(), { audience: 'https://workspace.internal', actor_token: forged, actor_token_type: JWT_TYPE }),
} as const;

it('has at least 40 distinct vectors', () => {
  expect(new Set(vectors.map((v) => v.name)).size).toBe(vectors.length);
  expect(vectors.length).toBeGreaterThanOrEqual(40);
});

/**
 * Each vector runs in each position twice: with the verified-token cache cold for it (the forged
 * token is new to the server), and warm: the genuine tokens it was forged from, and a good token of
 * the same issuer, have each been presented in the same position (and remembered) just before, and
 * the forged token is presented twice. Whatever the cache holds, the refusal and its reason are the
 * same every time.
 */
for (const [position, form] of Object.entries(positions)) {
  for (const cache of ['cold', 'warm'] as const) {
    describe(`forged ${position} tokens, verified-token cache ${cache} (${vectors.length} vectors)`, () => {
      for (const vector of vectors) {
        it(`${vector.name} → ${vector.reason}`, async () => {
          produced = [];
          const token = await vector.token();
          if (cache === 'warm') {
            for (const genuine of [...produced, await entra.app()]) {
              for (let i = 0; i < 2; i++) await tokex.exchange(await form(genuine));
            }
          }
          const issuerHits = { ...entra.idp.hits };
          for (let presentation = 0; presentation < (cache === 'warm' ? 2 : 1); presentation++) {
            const compared = agreement.compared();
            const res = await tokex.exchange(await form(token));
            // policy explain was asked too, and gave the server's answer.
            expect(agreement.compared()).toBe(compared + 1);
            expect(res.status).toBe(400);
            expect(res.body.error).toBe('invalid_request');
            const record = await tokex.auditFor(res.headers.get('x-correlation-id')!);
            expect(record).toMatchObject({ outcome: 'denied', reason: vector.reason });
            expect(record.grant).toBeUndefined();
            if (position === 'actor') {
              // The refusal says it was the actor; the subject, valid, is still named.
              expect(record.detail).toMatch(/^actor token: /);
              expect(record.caller).toMatchObject({ kind: 'app' });
            }
          }
          // No call anywhere: the issuer's keys were cached, the attacker is never contacted.
          expect(entra.idp.hits).toEqual(issuerHits);
          expect(attacker.hits).toEqual({ discovery: 0, jwks: 0, other: 0 });
        });
      }
    });
  }
}
