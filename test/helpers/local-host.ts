import { type ChildProcess, spawn } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../bench/free-port.js';
import type { AuditRecord } from '../../shared/audit/record.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_JWT } from '../../shared/protocol.js';
import { rsaKeyPair } from '../fakes/rsa-keys.js';

export { freePort };

export const CLI = resolve(import.meta.dirname, '../../dist/bin/tokex.js');
export {
  TOKEN_EXCHANGE_GRANT as TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN as ACCESS_TOKEN_TYPE,
  TOKEN_TYPE_JWT as JWT_TYPE,
} from '../../shared/protocol.js';

/**
 * Puts the dev issuer's key file in `localDir` (TOKEX_LOCAL_DIR), from the fakes' keys (`key`, else the
 * next one): `tokex serve` and `tokex dev-token` otherwise make one on first use, up to half a second of
 * CPU for an RSA key.
 */
export function placeDevIssuerKey(localDir: string, key: KeyObject = rsaKeyPair().privateKey): void {
  mkdirSync(localDir, { recursive: true, mode: 0o700 });
  const jwk = key.export({ format: 'jwk' });
  writeFileSync(join(localDir, 'dev-issuer-key.json'), `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
}

/** The built `tokex serve`, running as a child process in a scratch folder, with its output captured. */
export class LocalTokex {
  stdout = '';
  stderr = '';
  /** Audit records parsed once, as their lines arrive (a suite makes thousands of exchanges). */
  readonly #records: AuditRecord[] = [];
  readonly #byCorrelation = new Map<string, AuditRecord>();
  /** Called on each new record: the auditFor calls still waiting. */
  readonly #waiting = new Set<() => void>();
  /** The part of stdout after its last newline: a line still being written. */
  #partial = '';
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dir: string,
    readonly env: Record<string, string>,
  ) {}

  /**
   * Starts `tokex serve` with `policy` (YAML text) and extra settings; resolves once it listens.
   * The dev issuer's key file is put in place first (placeDevIssuerKey); `generateDevKey` leaves that
   * to the server, as on a developer's first `npm start`.
   */
  static async start(policy: string, env: Record<string, string> = {}, options: { generateDevKey?: boolean } = {}): Promise<LocalTokex> {
    const dir = mkdtempSync(join(tmpdir(), 'tokex-test-'));
    writeFileSync(join(dir, 'policy.yaml'), policy);
    const port = await freePort();
    const settings = {
      PORT: String(port),
      TOKEX_POLICY: join(dir, 'policy.yaml'),
      TOKEX_LOCAL_DIR: join(dir, '.local'),
      TOKEX_AUDIT_FILE: join(dir, 'audit.jsonl'),
      ...env,
    };
    if (!options.generateDevKey) placeDevIssuerKey(settings.TOKEX_LOCAL_DIR);
    const child = spawn(process.execPath, [CLI, 'serve'], { cwd: dir, env: { ...process.env, ...settings }, stdio: ['ignore', 'pipe', 'pipe'] });
    const host = new LocalTokex(child, `http://127.0.0.1:${port}`, dir, settings);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => host.#read(d));
    child.stderr!.on('data', (d: Buffer) => (host.stderr += d.toString()));
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`tokex did not start within ${Date.now() - started} ms (pid ${child.pid}, still running: ${child.exitCode === null}): ${host.stderr}`),
          ),
        15_000,
      );
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`tokex could not be started: ${err.message}`));
      });
      child.stderr!.on('data', () => {
        if (host.stderr.includes('tokex listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tokex exited with ${code}: ${host.stderr}`));
      });
    });
    return host;
  }

  /** POST /token with form parameters (a value of string[] repeats the parameter). */
  async exchange(
    params: Record<string, string | string[]>,
    init: { contentType?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) form.append(k, one);
    const res = await fetch(`${this.url}/token`, {
      method: 'POST',
      headers: { 'content-type': init.contentType ?? 'application/x-www-form-urlencoded', ...init.headers },
      body: form.toString(),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  /** Audit records the server printed on stdout so far. */
  auditRecords(): AuditRecord[] {
    return [...this.#records];
  }

  #read(chunk: string): void {
    this.stdout += chunk;
    const lines = (this.#partial + chunk).split('\n');
    this.#partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line) as AuditRecord;
      if (typeof record.event !== 'string') continue;
      this.#records.push(record);
      // The first record of an id, as a search from the start would find.
      if (!this.#byCorrelation.has(record.correlationId)) this.#byCorrelation.set(record.correlationId, record);
      for (const wake of this.#waiting) wake();
    }
  }

  auditFile(): string {
    return readFileSync(this.env.TOKEX_AUDIT_FILE!, 'utf8');
  }

  /** Waits for the record with this correlation id (stdout is asynchronous to the HTTP answer). */
  async auditFor(correlationId: string): Promise<AuditRecord> {
    const found = this.#byCorrelation.get(correlationId);
    if (found) return found;
    return new Promise<AuditRecord>((resolve, reject) => {
      const wake = () => {
        const record = this.#byCorrelation.get(correlationId);
        if (!record) return;
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve(record);
      };
      const timer = setTimeout(() => {
        this.#waiting.delete(wake);
        reject(new Error(`no audit record for ${correlationId}`));
      }, 5_000);
      this.#waiting.add(wake);
    });
  }

  /** Stops it as a service manager would (SIGTERM): it must close, flush its audit and exit 0. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => this.child.once('exit', (code, signal) => r([code, signal])));
    this.child.kill('SIGTERM');
    const [code, signal] = await exited;
    if (code !== 0) throw new Error(`tokex serve ended with ${code ?? signal} on SIGTERM, not 0: ${this.stderr}`);
  }
}

/** The RFC 8693 form for exchanging `subjectToken` for `target` (as `audience`). */
export function exchangeForm(subjectToken: string, extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return { grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subjectToken, subject_token_type: TOKEN_TYPE_JWT, ...extra };
}
