import { join } from 'node:path';
import { BUILD_STATUS_VARIABLE, builtBeforeTests } from './build-status.js';
import { makeRsaKeyPool, RSA_KEYS_VARIABLE } from './fakes/rsa-keys.js';
import { makeThrowawayTls, TLS_DIR_VARIABLE } from './fakes/tls.js';

/**
 * Runs once, in vitest's main process, before the test processes are forked: they inherit this
 * environment, so every test process trusts the run's throwaway CA from its start (Node reads
 * NODE_EXTRA_CA_CERTS only then; the bundle keeps the machine's own extra CAs), and draws the fakes'
 * RSA keys from the run's pool instead of generating its own. Under `npm test` it also waits for the
 * build that runs beside it (test/build-status.ts).
 */
export default async function setup(): Promise<void> {
  if (process.env[TLS_DIR_VARIABLE]) return builtBeforeTests(process.env[BUILD_STATUS_VARIABLE]);
  const dir = makeThrowawayTls(process.env.NODE_EXTRA_CA_CERTS);
  const [keys] = await Promise.all([makeRsaKeyPool(dir), builtBeforeTests(process.env[BUILD_STATUS_VARIABLE])]);
  process.env[RSA_KEYS_VARIABLE] = keys;
  process.env[TLS_DIR_VARIABLE] = dir;
  process.env.NODE_EXTRA_CA_CERTS = join(dir, 'bundle.pem');
}
