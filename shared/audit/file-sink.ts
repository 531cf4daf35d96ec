import { appendFile } from 'node:fs/promises';
import type { AuditSink } from './sink.js';

/** `TOKEX_AUDIT_FILE`: records appended as JSON lines; a write that fails rejects, so fail-closed mode can refuse. */
export function fileSink(path: string): AuditSink {
  return {
    name: `file:${path}`,
    durable: true,
    async write(record) {
      await appendFile(path, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    },
  };
}
