import { Console } from 'node:console';
import type { Writable } from 'node:stream';
import { Auditor } from '../shared/audit/auditor.js';

/** The audit path of the server, writing to `out` instead of stdout (the in-process bench must not print records). */
export function benchAuditor(out: Writable): Auditor {
  const console = new Console(out);
  return new Auditor([{ name: 'stdout', durable: false, write: async (record) => console.log(JSON.stringify(record)) }], false);
}
