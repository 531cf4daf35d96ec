import { performance } from 'node:perf_hooks';
import type { HttpResult } from '../http-result.js';
import { log } from '../log.js';
import { type AuditRecord, outcomeOf } from './record.js';
import type { AuditSink } from './sink.js';

/**
 * Hands each record to every sink: the durable ones (file, Application Insights) first, then the
 * stdout log line, which thus always shows the final outcome. With `required`
 * (TOKEX_AUDIT_REQUIRED=true) a record no durable sink accepted turns the answer into a 503.
 */
export class Auditor {
  readonly #durable: readonly AuditSink[];
  readonly #logs: readonly AuditSink[];

  constructor(
    readonly sinks: readonly AuditSink[],
    readonly required: boolean,
  ) {
    this.#durable = sinks.filter((s) => s.durable);
    this.#logs = sinks.filter((s) => !s.durable);
  }

  /**
   * Completes the record from the answer, writes it, and returns the answer, or `refusal()` when
   * the record could not be kept and keeping it is required (a token not audited is not released).
   */
  async conclude(record: AuditRecord, result: HttpResult, startedAt: number, refusal: () => HttpResult): Promise<HttpResult> {
    record.outcome = outcomeOf(result.status);
    record.durationMs = Math.round((performance.now() - startedAt) * 100) / 100;
    if (await this.write(record)) return result;
    log.error('audit required but no audit sink accepted the record; refusing', { correlationId: record.correlationId });
    return refusal();
  }

  /** Whether the request may be answered: false only when required and no durable sink accepted the record. */
  async write(record: AuditRecord): Promise<boolean> {
    const durable = this.#durable;
    let accepted = durable.length === 0 || (await this.#send(durable, record));
    if (!accepted && this.required) {
      record.outcome = 'failed';
      record.reason = 'audit_unavailable';
      record.detail = 'no audit sink accepted the record';
    }
    const logged = await this.#send(this.#logs, record);
    if (durable.length === 0) accepted = logged;
    return accepted || !this.required;
  }

  async flush(): Promise<void> {
    await Promise.allSettled(this.sinks.map((sink) => sink.flush?.()));
  }

  async #send(sinks: readonly AuditSink[], record: AuditRecord): Promise<boolean> {
    const results = await Promise.allSettled(sinks.map((sink) => sink.write(record)));
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        log.error('audit sink failed', { sink: sinks[i]?.name, correlationId: record.correlationId, error: errorMessage(result.reason) });
      }
    });
    return results.some((r) => r.status === 'fulfilled');
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${(err as NodeJS.ErrnoException).code ?? err.message}` : String(err);
}
