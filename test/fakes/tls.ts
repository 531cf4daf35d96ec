import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  /**
   * A file holding the machine's existing NODE_EXTRA_CA_CERTS bundle plus the throwaway CA: what a
   * child process is given, so it trusts the fakes and still reaches what it reached before.
   */
  readonly caBundle: string;
}

/** Set by test/global-setup.ts: the folder of the run's one throwaway CA, trusted by every test process. */
export const TLS_DIR_VARIABLE = 'TOKEX_TEST_TLS_DIR';

let cached: Tls | undefined;

/**
 * The run's throwaway CA and a server certificate for localhost and 127.0.0.1. The global setup makes
 * them once, before the test processes start, and puts the CA into their NODE_EXTRA_CA_CERTS
 * (read by Node only at process start), so the real Azure SDKs trust the HTTPS fakes in-process too.
 */
export function throwawayTls(): Tls {
  if (cached) return cached;
  const dir = process.env[TLS_DIR_VARIABLE] ?? makeThrowawayTls(process.env.NODE_EXTRA_CA_CERTS);
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  cached = { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), caBundle: join(dir, 'bundle.pem') };
  return cached;
}

/** Makes the CA, the server certificate and the bundle (existing extra CAs + ours) in a new folder. */
export function makeThrowawayTls(existingExtraCerts: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    // P-256 keys: made in a millisecond where RSA takes up to half a second, before any test can start.
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=tokex-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const existing = existingExtraCerts && existsSync(existingExtraCerts) ? readFileSync(existingExtraCerts, 'utf8') : '';
  writeFileSync(join(dir, 'bundle.pem'), `${existing}\n${ca}`);
  return dir;
}
