import type { AuditRecord } from './record.js';

/** Somewhere audit records go. `write` resolves once the record is accepted and rejects if it cannot be. */
export interface AuditSink {
  readonly name: string;
  /**
   * A durable sink is an audit store (the file, Application Insights). The stdout log line is not:
   * it counts for TOKEX_AUDIT_REQUIRED only when no durable sink is configured.
   */
  readonly durable: boolean;
  write(record: AuditRecord): Promise<void>;
  /** Deliver anything buffered (called on shutdown). */
  flush?(): Promise<void>;
}
