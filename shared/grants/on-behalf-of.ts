import type { Caller } from '../caller/caller.js';
import { TokexError } from '../errors.js';
import type { IdentityConfig, IssuerConfig } from '../policy/policy.js';
import type { OboUser } from './entra.js';

const quote = (value: unknown) => JSON.stringify(value)?.slice(0, 100) ?? 'undefined';

/**
 * What tokex checks before asking Entra for an on-behalf-of token, so that a request Entra would
 * refuse never reaches it: the subject is an Entra user token (from a `kind: entra` issuer, delegated, with `tid` and `oid`),
 * issued for the OBO app registration itself (`aud` its client id or `api://<client id>`).
 */
export function oboUser(caller: Caller, issuerKind: IssuerConfig['kind'], identity: IdentityConfig, subjectToken: string): OboUser {
  if (identity.type !== 'app' && identity.type !== 'service-principal') {
    throw new TokexError('internal_error', `identity "${identity.name}" cannot do on-behalf-of`);
  }
  // Only Entra vouches for `tid` and `oid`; from any other issuer they could name someone else's
  // cached token, since the cache is keyed by them.
  if (issuerKind !== 'entra') throw new TokexError('obo_refused', `the subject's issuer "${caller.issuerName}" is not kind entra`);
  if (caller.kind !== 'user') throw new TokexError('obo_refused', `the subject token is of kind ${caller.kind}; on-behalf-of needs a user token`);
  if (caller.tenantId === undefined || caller.objectId === undefined) {
    throw new TokexError('obo_refused', 'the subject has no "tid" and "oid": not an Entra user token');
  }
  const audiences = [identity.clientId, `api://${identity.clientId}`];
  if (!audiences.includes(caller.claims.aud as string)) {
    throw new TokexError(
      'obo_refused',
      `"aud" is ${quote(caller.claims.aud)}, on-behalf-of as "${identity.name}" needs ${audiences.map((a) => `"${a}"`).join(' or ')}`,
    );
  }
  return { token: subjectToken, tenantId: caller.tenantId, objectId: caller.objectId };
}
