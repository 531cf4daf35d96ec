import type { AuditRecord } from './record.js';

/** Somewhere audit records go. `write` resolves once the record is accepted and rejects if it cannot be. */
export interface AuditSink {
  readonly name: string;
  write(record: AuditRecord): Promise<void>;
  /** Deliver anything buffered (called on shutdown). */
  flush?(): Promise<void>;
}
