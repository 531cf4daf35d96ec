import { describe, expect, it } from 'vitest';
import { describeCaller } from '../../../shared/caller/caller.js';
import { oboUser } from '../../../shared/grants/on-behalf-of.js';
import type { IdentityConfig } from '../../../shared/policy/policy.js';

const TENANT = '11111111-1111-4111-8111-111111111111';
const CLIENT = '44444444-4444-4444-8444-444444444444';
const app: IdentityConfig = { name: 'api', type: 'app', tenantId: TENANT, clientId: CLIENT };
const person = (extra: Record<string, unknown> = {}) =>
  describeCaller('corp', 'entra', {
    iss: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    aud: CLIENT,
    tid: TENANT,
    oid: 'user-oid',
    sub: 's',
    scp: 'access_as_user',
    ...extra,
  });
const refused = (detail: RegExp) => expect.objectContaining({ reason: 'obo_refused', detail: expect.stringMatching(detail) });

describe('the on-behalf-of pre-check', () => {
  it('a user token for the app (client id or api://<client id>) names the user', () => {
    expect(oboUser(person(), 'entra', app, 'token')).toEqual({ token: 'token', tenantId: TENANT, objectId: 'user-oid' });
    expect(() => oboUser(person({ aud: `api://${CLIENT}` }), 'entra', app, 'token')).not.toThrow();
  });

  it('refuses app tokens, tokens without tid/oid, other audiences, and any issuer that is not Entra', () => {
    expect(() => oboUser(person({ scp: undefined, roles: ['X'], idtyp: 'app' }), 'entra', app, 't')).toThrow(refused(/of kind app/));
    expect(() => oboUser(person({ oid: undefined }), 'entra', app, 't')).toThrow(refused(/no "tid" and "oid"/));
    expect(() => oboUser(person({ aud: 'api://tokex' }), 'entra', app, 't')).toThrow(refused(/"aud" is "api:\/\/tokex"/));
    // A non-Entra issuer's tid/oid could name another user's cached token.
    expect(() => oboUser(person(), 'oidc', app, 't')).toThrow(refused(/not kind entra/));
  });
});
