import { performance } from 'node:perf_hooks';
import type { Caller } from '../caller/caller.js';
import { type Endpoint, TokexError } from '../errors.js';
import { errorResult, type HttpResult } from '../http-result.js';
import { log } from '../log.js';
import type { Trace } from '../trace.js';
import type { Auditor } from './auditor.js';
import { AUDIT_LIMITS, type AuditEvent, type AuditRecord, callerSummary, requestSummary, tokenFingerprint } from './record.js';

const EVENTS: Record<Endpoint, AuditEvent> = { token: 'token.exchange', credentials: 'credential.read' };

export interface Received {
  readonly correlationId: string;
  readonly clientIp: string | undefined;
}

/**
 * The one way an audit record is opened, filled and concluded, for both endpoints. The steps of a
 * request tell the trail what they learn (the request, the token's fingerprint, the caller once
 * its signature verified, the rule, the grant); whatever the work throws becomes the answer from
 * the error table and the record's reason and detail; the record is written before the answer goes out.
 */
export class AuditTrail implements Trace {
  readonly record: AuditRecord;

  constructor(endpoint: Endpoint, received: Received, now: number) {
    this.record = {
      time: new Date(now).toISOString(),
      event: EVENTS[endpoint],
      outcome: 'denied',
      reason: 'ok',
      correlationId: received.correlationId,
      durationMs: 0,
      ...(received.clientIp && { clientIp: received.clientIp }),
    };
  }

  #target: string | undefined;
  #scopes: string[] | undefined;

  /** What the request asks for, bounded (requestSummary) so a record stays under 8 KiB. */
  request(part: { target?: string; scopes?: string[]; secret?: string }): void {
    if (part.secret !== undefined) {
      this.record.request = { ...this.record.request, secret: part.secret.slice(0, AUDIT_LIMITS.target) };
      return;
    }
    if (part.target !== undefined) this.#target = part.target;
    if (part.scopes !== undefined) this.#scopes = part.scopes;
    this.record.request = requestSummary(this.#target, this.#scopes);
  }

  subjectToken(token: string): void {
    this.record.subjectTokenId = tokenFingerprint(token);
  }

  /** Trace: the caller is known (its token verified), so even a later refusal names it. */
  caller(caller: Caller): void {
    this.record.caller = callerSummary(caller);
  }

  actorToken(token: string): void {
    this.record.actorTokenId = tokenFingerprint(token);
  }

  /** Trace: the actor of a delegation request is known (its token verified). */
  actor(actor: Caller): void {
    this.record.actor = callerSummary(actor);
  }

  rule(name: string): void {
    this.record.rule = name;
  }

  grant(grant: NonNullable<AuditRecord['grant']>): void {
    this.record.grant = grant;
  }

  /**
   * Notes why a request failed. Anything that is not a TokexError is a bug: logged by name and
   * where it was thrown, never by message (some quote their input, e.g. JSON.parse's), and
   * answered as `internal_error`.
   */
  fail(err: unknown): TokexError {
    const failure = err instanceof TokexError ? err : new TokexError('internal_error', `unexpected ${(err as Error)?.name ?? 'error'}`, { cause: err });
    if (failure.reason === 'internal_error') {
      const at =
        err instanceof Error
          ? err.stack
              ?.split('\n')
              .find((line) => line.trimStart().startsWith('at '))
              ?.trim()
          : undefined;
      log.error(`${this.record.event} failed`, { correlationId: this.record.correlationId, error: (err as Error)?.name ?? typeof err, ...(at && { at }) });
    }
    this.record.reason = failure.reason;
    this.record.detail = failure.detail.slice(0, AUDIT_LIMITS.detail);
    return failure;
  }
}

/** Runs one request of `endpoint` under a fresh audit trail and answers it, audited. */
export async function audited(
  auditor: Auditor,
  endpoint: Endpoint,
  received: Received,
  now: number,
  work: (trail: AuditTrail) => Promise<HttpResult>,
): Promise<HttpResult> {
  const started = performance.now();
  const trail = new AuditTrail(endpoint, received, now);
  let result: HttpResult;
  try {
    result = await work(trail);
  } catch (err) {
    const failure = trail.fail(err);
    result = errorResult(endpoint, failure.reason, received.correlationId, { detail: failure.detail, retryAfter: failure.retryAfter });
  }
  return auditor.conclude(trail.record, result, started, () => errorResult(endpoint, 'audit_unavailable', received.correlationId, { retryAfter: 5 }));
}
