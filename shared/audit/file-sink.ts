import { appendFile } from 'node:fs/promises';
import { LineWriter } from './line-writer.js';
import type { AuditSink } from './sink.js';

/**
 * `TOKEX_AUDIT_FILE`: records appended as JSON lines, one append per batch (see line-writer.ts). The
 * file is opened for each batch, so a rotated or replaced file is picked up; a write that fails
 * rejects every record of its batch, so fail-closed mode can refuse.
 */
export function fileSink(path: string): AuditSink {
  const file = new LineWriter((chunk) => appendFile(path, chunk, { mode: 0o600 }));
  return {
    name: `file:${path}`,
    durable: true,
    write: (record) => file.write(JSON.stringify(record)),
    flush: () => file.flush(),
  };
}
