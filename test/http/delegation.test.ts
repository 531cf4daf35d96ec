/**
 * Delegation on the wire (RFC 8693 §1.1, §2.1, §4.1, §4.4): actor tokens validated like subject
 * tokens, `when.actor` rules, `may_act`, and the `act` claim of minted tokens, over HTTP.
 */
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeEntra, TENANT_A } from '../fakes/entra.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';
import { checkExplainAgreement } from '../helpers/explain-agreement.js';
import { ACCESS_TOKEN_TYPE, exchangeForm, JWT_TYPE, LocalTokex } from '../helpers/local-host.js';
import { tokexCommand } from '../helpers/tokex-command.js';

let entra: FakeEntra;
let idp: FakeIssuer;
let tokex: LocalTokex;
const WORKSPACE = 'https://workspace.internal';
const BATCH = 'https://batch.internal';

function policy(): string {
  return `
issuers:
  - { name: corp, kind: entra, issuer: "${entra.v2(TENANT_A)}", audience: ${'44444444-4444-4444-8444-444444444444'}, jwksUri: "${entra.origin}/keys" }
  - { name: idp, issuer: "${idp.issuer}", audience: api://tokex }
rules:
  - name: portal-for-people
    when:
      issuer: corp
      claims: { scp: "*access_as_user*" }
      actor: { issuer: corp, claims: { roles: Portal.Act } }
    grant:
      - { minted: "${WORKSPACE}", scopes: [data.read] }
  - name: batch-delegated
    when:
      issuer: idp
      claims: { roles: Batch.Run }
      actor: { issuer: idp, claims: { sub: "svc-*" } }
    grant:
      - { minted: "${BATCH}", scopes: [jobs.read, jobs.submit] }
  - name: batch-direct
    when: { issuer: idp, claims: { roles: Batch.Run } }
    grant:
      - { minted: "${BATCH}", scopes: [jobs.read] }
`;
}

beforeAll(async () => {
  [entra, idp] = await Promise.all([FakeEntra.start(), FakeIssuer.start()]);
  tokex = await LocalTokex.start(policy());
  // Every exchange below is also put to `policy explain`, which must give the server's answer.
  await checkExplainAgreement(tokex);
});
afterAll(async () => {
  await tokex?.stop();
  await Promise.all([entra?.close(), idp?.close()]);
});

const user = (extra: Record<string, unknown> = {}) => entra.user(TENANT_A, extra);
const portal = (extra: Record<string, unknown> = {}) => entra.app(TENANT_A, { roles: ['Portal.Act'], ...extra });
const batchSubject = (extra: Record<string, unknown> = {}) => idp.token({ sub: 'job-7', aud: 'api://tokex', roles: ['Batch.Run'], ...extra });
const service = (extra: Record<string, unknown> = {}) => idp.token({ sub: 'svc-1', aud: 'api://tokex', ...extra });

async function delegate(subject: string, actor: string, extra: Record<string, string> = {}) {
  const res = await tokex.exchange(exchangeForm(subject, { actor_token: actor, actor_token_type: JWT_TYPE, ...extra }));
  return { ...res, audit: await tokex.auditFor(res.headers.get('x-correlation-id')!) };
}

async function verified(token: string, audience: string) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${tokex.url}/.well-known/jwks.json`)), { audience, typ: 'at+jwt' });
  return payload;
}

/** A chain of `depth` links, as an actor token that is itself delegated would carry in `act`. */
function chain(depth: number): Record<string, unknown> {
  let link: Record<string, unknown> | undefined;
  for (let i = depth; i >= 1; i--) link = { iss: `https://prior-${i}.example`, sub: `prior-${i}`, ...(link && { act: link }) };
  return link!;
}

describe('a delegated exchange', () => {
  it("an Entra user, a portal app acting for them: the minted token names both (act.sub = the actor's oid)", async () => {
    const subject = await user();
    const actor = await portal();
    const { status, body, audit } = await delegate(subject, actor, { audience: WORKSPACE });
    expect(status).toBe(200);
    const payload = await verified(body.access_token as string, WORKSPACE);
    const [s, a] = [decodeJwt(subject), decodeJwt(actor)];
    expect(payload).toMatchObject({ oid: s.oid, scope: 'data.read', act: { iss: entra.v2(TENANT_A), sub: a.oid } });
    expect(Object.keys(payload.act as object).sort()).toEqual(['iss', 'sub']);
    expect(audit).toMatchObject({
      outcome: 'granted',
      reason: 'ok',
      rule: 'portal-for-people',
      caller: { objectId: s.oid, kind: 'user' },
      actor: { issuer: entra.v2(TENANT_A), objectId: a.oid, kind: 'app' },
    });
    expect(audit.actorTokenId).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(audit.actorTokenId).not.toBe(audit.subjectTokenId);
    // Neither token, nor the one issued, anywhere tokex wrote.
    const written = tokex.stdout + tokex.stderr + tokex.auditFile();
    for (const token of [subject, actor, body.access_token as string]) expect(written).not.toContain(token.split('.')[2]);
  });

  it('an actor from a non-Entra issuer: act.sub is <issuer name>:<sub>', async () => {
    const { status, body, audit } = await delegate(await batchSubject(), await service(), { audience: BATCH, scope: 'jobs.submit' });
    expect([status, audit.rule]).toEqual([200, 'batch-delegated']);
    expect((await verified(body.access_token as string, BATCH)).act).toEqual({ iss: idp.issuer, sub: 'idp:svc-1' });
  });

  it('actor_token_type access_token is accepted like jwt', async () => {
    const { status } = await delegate(await batchSubject(), await service(), { audience: BATCH, actor_token_type: ACCESS_TOKEN_TYPE });
    expect(status).toBe(200);
  });

  it('an actor that was itself delegated: its chain is nested inside act, links reduced to iss/sub/act', async () => {
    const prior = { ...chain(2), name: 'dropped' };
    const { status, body } = await delegate(await batchSubject(), await service({ act: prior }), { audience: BATCH });
    expect(status).toBe(200);
    expect((await verified(body.access_token as string, BATCH)).act).toEqual({
      iss: idp.issuer,
      sub: 'idp:svc-1',
      act: { iss: 'https://prior-1.example', sub: 'prior-1', act: { iss: 'https://prior-2.example', sub: 'prior-2' } },
    });
  });

  it('a chain of 5 is issued; 6 is refused (actor_not_allowed)', async () => {
    const five = await delegate(await batchSubject(), await service({ act: chain(4) }), { audience: BATCH });
    expect(five.status).toBe(200);
    const six = await delegate(await batchSubject(), await service({ act: chain(5) }), { audience: BATCH });
    expect([six.status, six.body.error, six.audit.reason]).toEqual([400, 'invalid_request', 'actor_not_allowed']);
    expect(six.audit.detail).toMatch(/actor: the delegation chain is deeper than 5/);
  });

  it('an act link that is not an object with a string sub is refused', async () => {
    for (const act of ['svc-0', { iss: 'https://x.example' }, { sub: 'a', act: [1] }]) {
      const res = await delegate(await batchSubject(), await service({ act }), { audience: BATCH });
      expect([res.status, res.audit.reason]).toEqual([400, 'actor_not_allowed']);
    }
  });
});

describe('may_act (RFC 8693 §4.4)', () => {
  it('the actor named by may_act.sub (and may_act.iss) may act', async () => {
    const bySub = await delegate(await batchSubject({ may_act: { sub: 'svc-1' } }), await service(), { audience: BATCH });
    expect(bySub.status).toBe(200);
    const byBoth = await delegate(await batchSubject({ may_act: { sub: 'svc-1', iss: idp.issuer } }), await service(), { audience: BATCH });
    expect(byBoth.status).toBe(200);
  });

  const refusals: [string, Record<string, unknown>][] = [
    ['another sub', { may_act: { sub: 'svc-2' } }],
    ['the sub in another case', { may_act: { sub: 'SVC-1' } }],
    ['another iss', { may_act: { sub: 'svc-1', iss: 'https://elsewhere.example' } }],
    ['no sub', { may_act: { iss: 'https://elsewhere.example' } }],
    ['may_act not an object', { may_act: 'svc-1' }],
  ];
  for (const [name, claims] of refusals) {
    it(`may_act with ${name} → 400 actor_not_allowed`, async () => {
      const res = await delegate(await batchSubject(claims), await service(), { audience: BATCH });
      expect([res.status, res.body.error, res.audit.reason, res.audit.outcome]).toEqual([400, 'invalid_request', 'actor_not_allowed', 'denied']);
      expect(res.audit.detail).toMatch(/^actor: /);
      expect(res.body.error_description).not.toMatch(/may_act|svc/);
    });
  }
});

describe('when.actor', () => {
  it('a rule with actor never matches a request without one; a rule without actor still does', async () => {
    const direct = await tokex.exchange(exchangeForm(await batchSubject(), { audience: BATCH, scope: 'jobs.submit' }));
    expect(direct.status).toBe(400); // batch-direct grants jobs.read only; batch-delegated needs an actor
    const audit = await tokex.auditFor(direct.headers.get('x-correlation-id')!);
    expect(audit.reason).toBe('scope_not_allowed');
    const plain = await tokex.exchange(exchangeForm(await batchSubject(), { audience: BATCH }));
    expect([plain.status, plain.body.scope]).toEqual([200, 'jobs.read']);
    expect(decodeJwt(plain.body.access_token as string).act).toBeUndefined();
    const onlyActorRules = await tokex.exchange(exchangeForm(await user(), { audience: WORKSPACE }));
    expect((await tokex.auditFor(onlyActorRules.headers.get('x-correlation-id')!)).reason).toBe('no_rule');
  });

  it('a rule without actor never matches a request with one: an actor no rule admits is actor_not_allowed', async () => {
    const res = await delegate(await batchSubject(), await idp.token({ sub: 'intruder', aud: 'api://tokex' }), { audience: BATCH });
    expect([res.status, res.body.error, res.audit.reason]).toEqual([400, 'invalid_request', 'actor_not_allowed']);
    expect(res.audit.actor).toMatchObject({ subject: 'intruder' });
  });

  it("the actor's issuer must be the rule's", async () => {
    const res = await delegate(await user(), await service(), { audience: WORKSPACE });
    expect(res.audit.reason).toBe('actor_not_allowed');
  });

  it("the actor's claims must hold", async () => {
    const res = await delegate(await user(), await portal({ roles: ['Jobs.Train'] }), { audience: WORKSPACE });
    expect(res.audit.reason).toBe('actor_not_allowed');
  });

  it('a subject matching no rule at all is still no_rule', async () => {
    const res = await delegate(await idp.token({ sub: 'nobody', aud: 'api://tokex' }), await service(), { audience: BATCH });
    expect(res.audit.reason).toBe('no_rule');
  });
});

describe('actor tokens are validated like subject tokens', () => {
  it('an expired actor token: reason expired, detail says actor, the audit names subject and actor', async () => {
    const subject = await batchSubject();
    const res = await delegate(subject, await idp.token({ sub: 'svc-1', aud: 'api://tokex' }, { expiresIn: -600 }), { audience: BATCH });
    expect([res.status, res.body.error, res.audit.reason]).toEqual([400, 'invalid_request', 'expired']);
    expect(res.audit.detail).toMatch(/^actor token: /);
    expect(res.audit.caller).toMatchObject({ subject: 'job-7' });
    expect(res.audit.actor).toMatchObject({ subject: 'svc-1' });
  });

  it('an actor token for another audience, from an unknown issuer, or not a JWT', async () => {
    const stranger = await FakeIssuer.start();
    try {
      const cases: [string, string][] = [
        [await idp.token({ sub: 'svc-1', aud: 'api://other' }), 'wrong_audience'],
        [await stranger.token({ sub: 'svc-1', aud: 'api://tokex' }), 'unknown_issuer'],
        ['not-a-token', 'malformed_token'],
      ];
      for (const [actor, reason] of cases) {
        const res = await delegate(await batchSubject(), actor, { audience: BATCH });
        expect([res.status, res.body.error, res.audit.reason]).toEqual([400, 'invalid_request', reason]);
        expect(res.audit.detail).toMatch(/^actor token: /);
        expect(res.audit.caller).toMatchObject({ subject: 'job-7' });
      }
      expect(stranger.hits).toEqual({ discovery: 0, jwks: 0, other: 0 });
    } finally {
      await stranger.close();
    }
  });
});

describe('the request', () => {
  const malformed: [string, Record<string, string | string[]>, string][] = [
    ['actor_token without actor_token_type', { actor_token: 'x.y.z' }, 'malformed_request'],
    ['actor_token_type without actor_token', { actor_token_type: JWT_TYPE }, 'malformed_request'],
    ['actor_token twice', { actor_token: ['x.y.z', 'x.y.z'], actor_token_type: JWT_TYPE }, 'malformed_request'],
    ['actor_token_type of an unsupported type', { actor_token: 'x.y.z', actor_token_type: 'urn:ietf:params:oauth:token-type:saml2' }, 'unsupported_token_type'],
  ];
  for (const [name, params, reason] of malformed) {
    it(`${name} → invalid_request (${reason})`, async () => {
      const res = await tokex.exchange(exchangeForm(await batchSubject(), { audience: BATCH, ...params }));
      expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
      expect((await tokex.auditFor(res.headers.get('x-correlation-id')!)).reason).toBe(reason);
    });
  }
});

describe('tokex policy explain --actor-token', () => {
  /** `tokex policy explain` with the server's settings, run in this process. */
  const explain = async (args: string[]) => {
    const { code, stdout } = await tokexCommand(['policy', 'explain', join(tokex.dir, 'policy.yaml'), ...args], { cwd: tokex.dir, env: tokex.env });
    return { code, out: stdout };
  };

  it('sees when.actor and may_act as the server does', async () => {
    const [ok, refused, noActor] = await Promise.all([
      explain(['--token', await batchSubject(), '--actor-token', await service(), '--target', BATCH, '--scope', 'jobs.submit']),
      explain(['--token', await batchSubject({ may_act: { sub: 'svc-2' } }), '--actor-token', await service(), '--target', BATCH]),
      explain(['--token', await batchSubject(), '--actor-token', await idp.token({ sub: 'intruder', aud: 'api://tokex' }), '--target', BATCH]),
    ]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/PASS {2}rule batch-delegated\n/);
    expect(ok.out).toMatch(/FAIL {2}rule batch-direct\n +→ the request carries an actor token/);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/reason actor_not_allowed/);
    expect(noActor.out).toMatch(/reason actor_not_allowed: actor: no rule of this caller admits this actor/);
  });
});
