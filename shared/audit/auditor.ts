import { log } from '../log.js';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

/**
 * Hands each record to every sink. Returns whether at least one accepted it, so that
 * `TOKEX_AUDIT_REQUIRED=true` can refuse what it could not record; a sink that fails is logged
 * (by name, never with the record's content beyond its correlation id).
 */
export class Auditor {
  constructor(readonly sinks: readonly AuditSink[]) {}

  async write(record: AuditRecord): Promise<boolean> {
    const results = await Promise.allSettled(this.sinks.map((sink) => sink.write(record)));
    let accepted = false;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') accepted = true;
      else log.error('audit sink failed', { sink: this.sinks[i]?.name, correlationId: record.correlationId, error: errorMessage(result.reason) });
    });
    return accepted;
  }

  async flush(): Promise<void> {
    await Promise.allSettled(this.sinks.map((sink) => sink.flush?.()));
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${(err as NodeJS.ErrnoException).code ?? err.message}` : String(err);
}
