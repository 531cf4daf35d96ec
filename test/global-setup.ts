import { join } from 'node:path';
import { makeRsaKeyPool, RSA_KEYS_VARIABLE } from './fakes/rsa-keys.js';
import { makeThrowawayTls, TLS_DIR_VARIABLE } from './fakes/tls.js';

/**
 * Runs once, in vitest's main process, before the test processes are forked: they inherit this
 * environment, so every test process trusts the run's throwaway CA from its start (Node reads
 * NODE_EXTRA_CA_CERTS only then; the bundle keeps the machine's own extra CAs), and draws the fakes'
 * RSA keys from the run's pool instead of generating its own.
 */
export default async function setup(): Promise<void> {
  if (process.env[TLS_DIR_VARIABLE]) return;
  const dir = makeThrowawayTls(process.env.NODE_EXTRA_CA_CERTS);
  process.env[RSA_KEYS_VARIABLE] = await makeRsaKeyPool(dir);
  process.env[TLS_DIR_VARIABLE] = dir;
  process.env.NODE_EXTRA_CA_CERTS = join(dir, 'bundle.pem');
}
