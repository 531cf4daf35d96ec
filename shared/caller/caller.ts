import type { JWTPayload } from 'jose';

export type CallerKind = 'app' | 'user' | 'managed-identity';

/** Who presented a verified subject token. Identified by tid+oid when present, else iss+sub. */
export interface Caller {
  readonly issuerName: string;
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
 * token with `scp` is delegated (user) and one without is app-only. `xms_mirid` marks a managed
 * identity; it only labels the audit record, it never authorizes anything.
 */
export function describeCaller(issuerName: string, claims: JWTPayload): Caller {
  const idtyp = str(claims.idtyp);
  const delegated = idtyp === 'user' || (idtyp !== 'app' && claims.scp !== undefined);
  const kind: CallerKind = delegated ? 'user' : claims.xms_mirid !== undefined ? 'managed-identity' : 'app';
  return {
    issuerName,
    issuer: String(claims.iss),
    tenantId: str(claims.tid),
    objectId: str(claims.oid),
    appId: str(claims.azp) ?? str(claims.appid),
    subject: str(claims.sub),
    kind,
    claims,
  };
}
