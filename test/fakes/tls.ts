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

let cached: Tls | undefined;

/** A throwaway CA and a server certificate for localhost and 127.0.0.1, made with openssl once per process. */
export function throwawayTls(): Tls {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'tokex-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tokex-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const existing = process.env.NODE_EXTRA_CA_CERTS;
  const bundle = join(dir, 'bundle.pem');
  writeFileSync(bundle, `${existing && existsSync(existing) ? readFileSync(existing, 'utf8') : ''}\n${ca}`);
  cached = { key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.pem'), 'utf8'), ca, caBundle: bundle };
  return cached;
}
