import type { JWTPayload } from 'jose';
import type { IssuerConfig } from './issuer-config.js';

export const CALLER_KINDS = ['user', 'app', 'managed-identity'] as const;
export type CallerKind = (typeof CALLER_KINDS)[number];

/** Who presented a verified subject token. Identified by tid+oid when present, else iss+sub. */
export interface Caller {
  readonly issuerName: string;
  /** `entra` callers are named by `oid`/`tid`; any other issuer's by `<issuer name>:<sub>`. */
  readonly issuerKind: IssuerConfig['kind'];
  readonly issuer: string;
  readonly tenantId: string | undefined;
  readonly objectId: string | undefined;
  readonly appId: string | undefined;
  readonly subject: string | undefined;
  readonly kind: CallerKind;
  /** The verified claims: policy conditions are evaluated against these. */
  readonly claims: JWTPayload;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Tells an app from a user the way Entra documents it: `idtyp` when the API opted into it, else a
 * token with `scp` is delegated (user) and one without is app-only. An app-only token carrying
 * `xms_mirid` (the managed identity's resource id, which Entra sets and no app can) is a managed
 * identity. Policy rules may match on the kind (`when.kind`); like any claim, it is only as
 * trustworthy as the issuer that signed the token.
 */
export function callerKind(claims: JWTPayload): CallerKind {
  const idtyp = str(claims.idtyp);
  const delegated = idtyp === 'user' || (idtyp !== 'app' && claims.scp !== undefined);
  return delegated ? 'user' : claims.xms_mirid !== undefined ? 'managed-identity' : 'app';
}

export function describeCaller(issuerName: string, issuerKind: IssuerConfig['kind'], claims: JWTPayload): Caller {
  const kind = callerKind(claims);
  return {
    issuerName,
    issuerKind,
    issuer: String(claims.iss),
    tenantId: str(claims.tid),
    objectId: str(claims.oid),
    appId: str(claims.azp) ?? str(claims.appid),
    subject: str(claims.sub),
    kind,
    claims,
  };
}
