/**
 * Property test (issue 11 item 11): whatever claims a verified caller token holds and whatever form
 * body arrives, `exchangeToken` answers with a 4xx or a 200, never a 5xx other than
 * downstream_unavailable / audit_unavailable, and its audit record stays under 8 KiB.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { exchangeToken } from '../../../shared/exchange/token-exchange.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../../../shared/protocol.js';
import { ENTRA_ISSUER, inProcessTokex, OIDC_ISSUER, TENANT } from '../../helpers/static-keys-core.js';

const POLICY = `
issuers:
  - { name: idp, issuer: "${OIDC_ISSUER}", audience: api://tokex }
  - { name: corp, kind: entra, issuer: "${ENTRA_ISSUER}", audience: api://tokex, jwksUri: "https://login.microsoftonline.com/keys" }
identities:
  reader: { type: managed-identity }
rules:
  - name: anyone
    when: { issuer: idp }
    grant:
      - { minted: "https://w.internal", scopes: [a, b] }
      - { entra: "https://ml.azure.com", identity: reader }
  - name: people
    when: { issuer: corp, claims: { scp: [access_as_user, "Files.*"], roles: [x, 1] } }
    grant:
      - { minted: "https://w.internal", scopes: [a, c] }
  - name: apps
    when: { issuer: corp }
    grant:
      - { minted: "https://w.internal", scopes: [a] }
      - { entra: "https://ml.azure.com", identity: reader }
`;

const ALLOWED_5XX = new Set(['downstream_unavailable', 'audit_unavailable']);
let env: Awaited<ReturnType<typeof inProcessTokex>>;
beforeAll(async () => {
  env = await inProcessTokex(POLICY);
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** Any JSON value, weighted towards the shapes claims usually have. */
const anyJson = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(''),
  fc.array(fc.string(), { maxLength: 4 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);
/** Mostly a value that passes validation, sometimes anything: so the random claims reach policy and minting. */
const usually = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: anyJson });
const time = (valid: fc.Arbitrary<number>) =>
  fc.oneof(
    { weight: 6, arbitrary: valid },
    { weight: 1, arbitrary: fc.double({ min: -120, max: 7200, noNaN: true }).map((d) => nowSeconds() + d) },
    { weight: 1, arbitrary: fc.constantFrom(Number.MAX_SAFE_INTEGER, 1e308, -1e308, 0) },
    { weight: 1, arbitrary: anyJson },
  );
const claimSet = fc.record(
  {
    iss: usually(fc.constantFrom(OIDC_ISSUER, ENTRA_ISSUER)),
    aud: usually(fc.constant('api://tokex')),
    exp: time(fc.integer({ min: -30, max: 7200 }).map((d) => nowSeconds() + d)),
    nbf: time(fc.integer({ min: -600, max: 30 }).map((d) => nowSeconds() + d)),
    iat: time(fc.integer({ min: -600, max: 30 }).map((d) => nowSeconds() + d)),
    sub: fc.oneof(fc.string({ maxLength: 2000 }), fc.constant(''), anyJson),
    oid: fc.oneof(fc.uuid(), fc.string(), anyJson),
    tid: usually(fc.constant(TENANT)),
    azp: anyJson,
    appid: anyJson,
    idtyp: fc.oneof(fc.constantFrom('app', 'user'), anyJson),
    scp: fc.oneof(fc.constantFrom('access_as_user', 'User.Read access_as_user', 'Files.Read Mail.All', 'a\nb', ' '), anyJson),
    roles: fc.oneof(fc.array(fc.oneof(fc.string(), fc.integer())), anyJson),
    xms_mirid: anyJson,
    extra: anyJson,
  },
  { requiredKeys: ['iss'] },
);
const form = fc.record(
  {
    grant_type: fc.oneof(fc.constant(TOKEN_EXCHANGE_GRANT), fc.string()),
    subject_token_type: fc.oneof(fc.constantFrom(TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN), fc.string()),
    requested_token_type: fc.oneof(fc.constantFrom(TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN), fc.string()),
    audience: fc.oneof(fc.constantFrom('https://w.internal', 'https://ml.azure.com'), fc.string({ maxLength: 3000 })),
    resource: fc.oneof(fc.constantFrom('https://w.internal', 'https://ml.azure.com'), fc.webUrl(), fc.string()),
    scope: fc.oneof(
      fc.constantFrom('a', 'a b', 'c', 'https://ml.azure.com/.default', ''),
      fc.array(fc.string({ minLength: 1, maxLength: 300 }), { maxLength: 80 }).map((s) => s.join(' ')),
      fc.string(),
    ),
    actor_token: fc.string(),
    client_id: fc.string(),
  },
  { requiredKeys: [] },
);

async function exchange(contentType: string | null, body: string) {
  const correlationId = `c-${Math.random()}`;
  const result = await exchangeToken(env.tokex, { contentType, body: Buffer.from(body), clientIp: '127.0.0.1', correlationId });
  const record = env.records.find((r) => r.correlationId === correlationId);
  return { result, record };
}

function expectSane(result: { status: number }, record: { reason: string } | undefined) {
  expect(record, 'one audit record').toBeDefined();
  expect(JSON.stringify(record).length, 'audit record under 8 KiB').toBeLessThan(8 * 1024);
  if (result.status >= 500) expect(ALLOWED_5XX.has(record!.reason), `5xx with reason ${record!.reason}`).toBe(true);
}

describe('exchangeToken never answers 5xx for bad input', () => {
  it('random claim sets in a correctly signed token', async () => {
    await fc.assert(
      fc.asyncProperty(claimSet, form, async (claims, params) => {
        const body = new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token_type: TOKEN_TYPE_JWT, audience: 'https://w.internal', ...params });
        body.set('subject_token', env.signRaw(claims));
        if (!('resource' in params)) body.delete('resource');
        const { result, record } = await exchange('application/x-www-form-urlencoded', body.toString());
        expectSane(result, record);
      }),
      { numRuns: 600 },
    );
  });

  it('random form bodies and content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant('application/x-www-form-urlencoded'), fc.string()),
        fc.oneof(fc.string({ maxLength: 5000 }), fc.string({ unit: 'binary', maxLength: 2000 })),
        async (contentType, body) => {
          const { result, record } = await exchange(contentType, body);
          expectSane(result, record);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the well-formed requests among them are granted (the property is not vacuous)', async () => {
    const token = env.signRaw({ iss: OIDC_ISSUER, aud: 'api://tokex', sub: 'job', exp: nowSeconds() + 600 });
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: token,
      subject_token_type: TOKEN_TYPE_JWT,
      audience: 'https://w.internal',
    });
    const { result, record } = await exchange('application/x-www-form-urlencoded', body.toString());
    expect([result.status, record?.reason]).toEqual([200, 'ok']);
  });
});
