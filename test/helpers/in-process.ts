import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecord } from '../../shared/audit/record.js';
import { readCredential } from '../../shared/credentials/read-credential.js';
import { exchangeToken } from '../../shared/exchange/token-exchange.js';
import type { HttpResult } from '../../shared/http-result.js';
import { loadSettings } from '../../shared/settings.js';
import { type StartOptions, startTokex } from '../../shared/startup.js';
import type { Tokex } from '../../shared/tokex.js';

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly audit: AuditRecord;
}

/**
 * The core of tokex in this test process: settings, policy and the real Azure SDK clients built by
 * startTokex, requests handed straight to exchangeToken / readCredential with no HTTP host in between.
 * Deadlines and backoffs are the test's to choose. Everything the process writes to stdout and stderr
 * while it runs is kept, so tests can search it for tokens and secrets.
 */
export class InProcessTokex {
  readonly #output: string[] = [];
  readonly #restore: (() => void)[] = [];
  /** Audit records parsed so far, and how many bytes of the audit file they came from (a suite makes thousands). */
  readonly #records: AuditRecord[] = [];
  readonly #byCorrelation = new Map<string, AuditRecord>();
  #parsedBytes = 0;

  private constructor(
    readonly tokex: Tokex,
    readonly dir: string,
    /** The settings it was started with, as the environment would give them. */
    readonly env: Record<string, string>,
  ) {}

  /** Starts with `policy` (YAML text), extra settings (as the environment would give them) and start options. */
  static async start(policy: string, env: Record<string, string> = {}, options: StartOptions = {}): Promise<InProcessTokex> {
    const dir = mkdtempSync(join(tmpdir(), 'tokex-core-'));
    writeFileSync(join(dir, 'policy.yaml'), policy);
    const given = { TOKEX_POLICY: join(dir, 'policy.yaml'), TOKEX_LOCAL_DIR: join(dir, '.local'), TOKEX_AUDIT_FILE: join(dir, 'audit.jsonl'), ...env };
    const settings = loadSettings(given, 'local');
    const core = new InProcessTokex(undefined as unknown as Tokex, dir, given);
    core.#capture();
    (core as { tokex: Tokex }).tokex = await startTokex(settings, options);
    return core;
  }

  /** POST /token with these form parameters (a string[] value repeats the parameter). */
  async exchange(params: Record<string, string | string[]>, init: { contentType?: string } = {}): Promise<Answer> {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) form.append(k, one);
    const correlationId = randomUUID();
    const contentType = init.contentType ?? 'application/x-www-form-urlencoded';
    const result = await exchangeToken(this.tokex, { contentType, body: Buffer.from(form.toString()), clientIp: '127.0.0.1', correlationId });
    return this.#answer(result, correlationId);
  }

  /** GET /credentials/{name} with this Authorization header (none when undefined). */
  async credential(name: string, authorization?: string): Promise<Answer> {
    const correlationId = randomUUID();
    const result = await readCredential(this.tokex, { name, authorization: authorization ?? null, clientIp: '127.0.0.1', correlationId });
    return this.#answer(result, correlationId);
  }

  /** The records in the audit file (every one is written there before its answer is returned). */
  auditRecords(): AuditRecord[] {
    this.#readAudit();
    return [...this.#records];
  }

  /** The (first) record with this correlation id. */
  async auditFor(correlationId: string): Promise<AuditRecord> {
    this.#readAudit();
    const record = this.#byCorrelation.get(correlationId);
    if (!record) throw new Error(`no audit record for ${correlationId}`);
    return record;
  }

  /** Parses the audit file's complete lines past those already parsed. */
  #readAudit(): void {
    const fd = openSync(join(this.dir, 'audit.jsonl'), 'r');
    try {
      const size = fstatSync(fd).size;
      // Cut short (someone truncated it): what it holds now is all there is.
      if (size < this.#parsedBytes) {
        this.#records.length = 0;
        this.#byCorrelation.clear();
        this.#parsedBytes = 0;
      }
      const unread = Buffer.alloc(size - this.#parsedBytes);
      const read = readSync(fd, unread, 0, unread.length, this.#parsedBytes);
      const complete = unread.subarray(0, unread.subarray(0, read).lastIndexOf(0x0a) + 1);
      this.#parsedBytes += complete.length;
      for (const line of complete.toString('utf8').split('\n')) {
        if (line === '') continue;
        const record = JSON.parse(line) as AuditRecord;
        this.#records.push(record);
        if (!this.#byCorrelation.has(record.correlationId)) this.#byCorrelation.set(record.correlationId, record);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Everything written to stdout, stderr and the audit file so far. */
  output(): string {
    return [...this.#output, readFileSync(join(this.dir, 'audit.jsonl'), 'utf8')].join('\n');
  }

  async stop(): Promise<void> {
    await this.tokex.auditor.flush();
    for (const restore of this.#restore.splice(0)) restore();
  }

  async #answer(result: HttpResult, correlationId: string): Promise<Answer> {
    const audit = await this.auditFor(correlationId);
    return { status: result.status, headers: new Headers(result.headers), body: result.body as Record<string, unknown>, audit };
  }

  /** Keeps what goes to stdout and stderr (audit lines, diagnostics) instead of printing it. */
  #capture(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write;
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        this.#output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      }) as typeof stream.write;
      this.#restore.push(() => (stream.write = write));
    }
    for (const level of ['log', 'info', 'warn', 'error'] as const) {
      const original = console[level];
      console[level] = (...args: unknown[]) => {
        this.#output.push(args.map(String).join(' '));
      };
      this.#restore.push(() => (console[level] = original));
    }
  }
}
