import type { Writable } from 'node:stream';
import { LineWriter } from './line-writer.js';
import type { AuditSink } from './sink.js';

/** Records as JSON lines on `stream`, written in batches, not through console (see line-writer.ts). */
export function streamSink(stream: Writable, name: string): AuditSink {
  const lines = new LineWriter((chunk) => new Promise<void>((resolve, reject) => stream.write(chunk, (err) => (err ? reject(err) : resolve()))));
  return {
    name,
    durable: false,
    write: (record) => lines.write(JSON.stringify(record)),
    flush: () => lines.flush(),
  };
}

/**
 * The structured log line every record always gets: one JSON object per line on stdout, which the
 * Functions host forwards to its logs (and Application Insights traces).
 */
export const stdoutSink: AuditSink = streamSink(process.stdout, 'stdout');
