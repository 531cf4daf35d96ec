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
  request?: { target?: string; scopes?: string[]; secret?: string };
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

export function callerSummary(caller: Caller): NonNullable<AuditRecord['caller']> {
  return {
    issuer: caller.issuer,
    ...(caller.tenantId && { tenantId: caller.tenantId }),
    ...(caller.objectId && { objectId: caller.objectId }),
    ...(caller.appId && { appId: caller.appId }),
    ...(caller.subject && { subject: caller.subject }),
    kind: caller.kind,
  };
}
