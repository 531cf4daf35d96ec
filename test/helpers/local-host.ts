import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../bench/free-port.js';
import type { AuditRecord } from '../../shared/audit/record.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_JWT } from '../../shared/protocol.js';

export { freePort };

export const CLI = resolve(import.meta.dirname, '../../dist/cli/tokex.js');
export {
  TOKEN_EXCHANGE_GRANT as TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN as ACCESS_TOKEN_TYPE,
  TOKEN_TYPE_JWT as JWT_TYPE,
} from '../../shared/protocol.js';

/** The built `tokex serve`, running as a child process in a scratch folder, with its output captured. */
export class LocalTokex {
  stdout = '';
  stderr = '';
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dir: string,
    readonly env: Record<string, string>,
  ) {}

  /** Starts `tokex serve` with `policy` (YAML text) and extra settings; resolves once it listens. */
  static async start(policy: string, env: Record<string, string> = {}): Promise<LocalTokex> {
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
    const child = spawn(process.execPath, [CLI, 'serve'], { cwd: dir, env: { ...process.env, ...settings }, stdio: ['ignore', 'pipe', 'pipe'] });
    const host = new LocalTokex(child, `http://127.0.0.1:${port}`, dir, settings);
    child.stdout!.on('data', (d: Buffer) => (host.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (host.stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tokex did not start: ${host.stderr}`)), 15_000);
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
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as AuditRecord)
      .filter((r) => typeof r.event === 'string');
  }

  auditFile(): string {
    return readFileSync(this.env.TOKEX_AUDIT_FILE!, 'utf8');
  }

  /** Waits for the record with this correlation id (stdout is asynchronous to the HTTP answer). */
  async auditFor(correlationId: string): Promise<AuditRecord> {
    for (let i = 0; i < 100; i++) {
      const found = this.auditRecords().find((r) => r.correlationId === correlationId);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no audit record for ${correlationId}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** The RFC 8693 form for exchanging `subjectToken` for `target` (as `audience`). */
export function exchangeForm(subjectToken: string, extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return { grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subjectToken, subject_token_type: TOKEN_TYPE_JWT, ...extra };
}
