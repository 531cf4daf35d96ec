import type { Writable } from 'node:stream';
import { Auditor } from '../shared/audit/auditor.js';
import { streamSink } from '../shared/audit/stdout-sink.js';

/** The server's audit path, writing to `out` instead of stdout (the in-process bench must not print records). */
export function benchAuditor(out: Writable): Auditor {
  return new Auditor([streamSink(out, 'stdout')], false);
}
