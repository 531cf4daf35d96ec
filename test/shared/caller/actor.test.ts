import { describe, expect, it } from 'vitest';
import { actClaim, checkMayAct, MAX_ACT_DEPTH } from '../../../shared/caller/actor.js';
import { describeCaller } from '../../../shared/caller/caller.js';

const ENTRA_ISS = 'https://login.microsoftonline.com/11111111-1111-4111-8111-111111111111/v2.0';
const entraActor = (extra: Record<string, unknown> = {}) =>
  describeCaller('corp', 'entra', {
    iss: ENTRA_ISS,
    sub: 'pairwise-sub',
    oid: 'actor-oid',
    tid: '11111111-1111-4111-8111-111111111111',
    roles: ['X'],
    ...extra,
  });
const oidcActor = (extra: Record<string, unknown> = {}) =>
  describeCaller('idp', 'oidc', { iss: 'https://idp.example', sub: 'svc-1', oid: 'not-trusted', ...extra });

describe('act (RFC 8693 §4.1)', () => {
  it('names an Entra actor by oid, any other by <issuer name>:<sub> (an oid from a non-Entra issuer is not trusted)', () => {
    expect(actClaim(entraActor(), 'entra')).toEqual({ iss: ENTRA_ISS, sub: 'actor-oid' });
    expect(actClaim(oidcActor(), 'oidc')).toEqual({ iss: 'https://idp.example', sub: 'idp:svc-1' });
  });

  it("nests the actor's own chain, keeping only iss, sub and act of each link", () => {
    const act = { sub: 'a', iss: 'https://a.example', email: 'x@y', act: { sub: 'b', extra: 1 } };
    expect(actClaim(oidcActor({ act }), 'oidc')).toEqual({
      iss: 'https://idp.example',
      sub: 'idp:svc-1',
      act: { iss: 'https://a.example', sub: 'a', act: { sub: 'b' } },
    });
  });

  it(`allows a chain of ${MAX_ACT_DEPTH}, refuses ${MAX_ACT_DEPTH + 1} and malformed links`, () => {
    const chain = (n: number): Record<string, unknown> => (n === 1 ? { sub: 's1' } : { sub: `s${n}`, act: chain(n - 1) });
    expect(() => actClaim(oidcActor({ act: chain(MAX_ACT_DEPTH - 1) }), 'oidc')).not.toThrow();
    expect(() => actClaim(oidcActor({ act: chain(MAX_ACT_DEPTH) }), 'oidc')).toThrow(expect.objectContaining({ reason: 'actor_not_allowed' }));
    for (const act of ['s', [{ sub: 's' }], { iss: 'x' }, { sub: 1 }, { sub: 's', iss: 2 }, null]) {
      expect(() => actClaim(oidcActor({ act }), 'oidc')).toThrow(expect.objectContaining({ reason: 'actor_not_allowed' }));
    }
  });
});

describe('may_act (RFC 8693 §4.4)', () => {
  const actor = { iss: 'https://idp.example', sub: 'svc-1' };
  it('absent: any actor; present: sub must equal as is, iss when given', () => {
    expect(() => checkMayAct({}, actor)).not.toThrow();
    expect(() => checkMayAct({ may_act: { sub: 'svc-1' } }, actor)).not.toThrow();
    expect(() => checkMayAct({ may_act: { sub: 'svc-1', iss: 'https://idp.example' } }, actor)).not.toThrow();
    for (const may_act of [
      { sub: 'svc-2' },
      { sub: ' svc-1' },
      { sub: 'svc-1', iss: 'https://idp.example/' },
      { iss: 'https://idp.example' },
      'svc-1',
      ['svc-1'],
      null,
    ]) {
      expect(() => checkMayAct({ may_act }, actor)).toThrow(
        expect.objectContaining({ reason: 'actor_not_allowed', detail: expect.stringMatching(/^actor: /) }),
      );
    }
  });
});
