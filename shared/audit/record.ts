import { createHash } from 'node:crypto';
import type { Caller, CallerKind } from '../caller/caller.js';
import type { Reason } from '../errors.js';

export type AuditEvent = 'token.exchange' | 'credential.read';
export type AuditOutcome = 'granted' | 'denied' | 'failed';

/** One record per request to /token or /credentials (DESIGN.md "Audit record"). Never a token or secret value. */
export interface AuditRecord {
  time: string;
  event: AuditEvent;
  outcome: AuditOutcome;
  reason: Reason;
  correlationId: string;
  caller?: {
    issuer: string;
    tenantId?: string;
    objectId?: string;
    appId?: string;
    subject?: string;
    kind: CallerKind;
  };
  /** Delegation: who acts for the caller (the actor token's identity, once its signature verified). */
  actor?: NonNullable<AuditRecord['caller']>;
  /** Bounded whatever the caller sent (see requestSummary); `truncated` when something was cut. */
  request?: { target?: string; scopes?: string[]; secret?: string; truncated?: true };
  rule?: string;
  /** `onBehalfOf`: an Entra token for the caller (a user), obtained by `identity` with the on-behalf-of flow. */
  grant?: { kind: 'entra' | 'minted' | 'secret'; identity?: string; onBehalfOf?: boolean; scopes?: string[]; expiresAt?: string; jti?: string };
  subjectTokenId?: string;
  actorTokenId?: string;
  durationMs: number;
  clientIp?: string;
  /** Why, in words, for refusals and failures, with the values compared (quoted, ≤ 200 characters each): never a token or secret. */
  detail?: string;
}

/** `outcome` follows the HTTP status. */
export function outcomeOf(status: number): AuditOutcome {
  return status < 400 ? 'granted' : status < 500 ? 'denied' : 'failed';
}

/** `sha256:<first 16 hex>`: lets an operator find a token's exchanges without storing the token. */
export function tokenFingerprint(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

/** Limits that keep one audit record under 8 KiB whatever a caller sends. */
export const AUDIT_LIMITS = { target: 1024, scopes: 50, scope: 100, callerField: 256, detail: 1024 } as const;

/** The request as audited: `target` cut to 1,024 characters, the first 50 scopes of at most 100 each. */
export function requestSummary(target: string | undefined, scopes: readonly string[] | undefined): NonNullable<AuditRecord['request']> {
  const cutTarget = target?.slice(0, AUDIT_LIMITS.target);
  const cutScopes = scopes?.slice(0, AUDIT_LIMITS.scopes).map((s) => s.slice(0, AUDIT_LIMITS.scope));
  const truncated = cutTarget !== target || (scopes !== undefined && (scopes.length > AUDIT_LIMITS.scopes || cutScopes!.some((s, i) => s !== scopes[i])));
  return {
    ...(cutTarget !== undefined && { target: cutTarget }),
    ...(cutScopes !== undefined && { scopes: cutScopes }),
    ...(truncated && { truncated: true as const }),
  };
}

/** Caller fields come from a verified token, but an issuer's claims are still bounded in the record. */
export function callerSummary(caller: Caller): NonNullable<AuditRecord['caller']> {
  const cut = (s: string) => s.slice(0, AUDIT_LIMITS.callerField);
  return {
    issuer: cut(caller.issuer),
    ...(caller.tenantId && { tenantId: cut(caller.tenantId) }),
    ...(caller.objectId && { objectId: cut(caller.objectId) }),
    ...(caller.appId && { appId: cut(caller.appId) }),
    ...(caller.subject && { subject: cut(caller.subject) }),
    kind: caller.kind,
  };
}
