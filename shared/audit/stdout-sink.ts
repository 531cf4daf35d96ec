import type { AuditSink } from './sink.js';

/**
 * The structured log line every record always gets: one JSON object per line on stdout, which the
 * Functions host forwards to its logs (and Application Insights traces).
 */
export const stdoutSink: AuditSink = {
  name: 'stdout',
  durable: false,
  async write(record) {
    console.log(JSON.stringify(record));
  },
};
