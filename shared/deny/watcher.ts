import { readFile, writeFile } from 'node:fs/promises';
import { ConfigError, TokexError } from '../errors.js';
import { log } from '../log.js';
import { type DenyList, EMPTY_DENY_LIST, parseDenyList } from './deny-list.js';

/** How often the deny-list is read again: a deny takes effect within this (plus one read). */
export const DENY_LIST_REFRESH_MS = 30_000;

/** Where the deny-list lives: a Key Vault secret or a local file. */
export interface DenyListSource {
  /** For messages: `kv:<secret>` or the file path. */
  readonly name: string;
  /** The document; throws when it cannot be read (absent included: a kill switch that vanished is an error). */
  read(): Promise<string>;
  write(text: string): Promise<void>;
}

/** The subset of the Key Vault store the deny-list needs (the real SecretClient behind it). */
export interface SecretReaderWriter {
  get(name: string): Promise<{ value: string } | undefined>;
  set(name: string, value: string, contentType?: string): Promise<void>;
}

export function keyVaultDenyListSource(store: SecretReaderWriter, secretName: string): DenyListSource {
  const name = `kv:${secretName}`;
  return {
    name,
    async read() {
      const secret = await store.get(secretName);
      if (!secret) throw new TokexError('downstream_unavailable', `${name}: the Key Vault secret does not exist`);
      return secret.value;
    },
    write: (text) => store.set(secretName, text, 'application/json'),
  };
}

/** A deny-list file; `name` (default: `path`) is how messages and `tokex deny list` name it. */
export function fileDenyListSource(path: string, name = path): DenyListSource {
  return {
    name,
    async read() {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        throw new TokexError('downstream_unavailable', `${name}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
      }
    },
    write: (text) => writeFile(path, text, { mode: 0o600 }),
  };
}

/** Runs `tick` every `ms`; returns how to stop. Injected by tests to drive refreshes without waiting. */
export type Schedule = (tick: () => Promise<void>, ms: number) => () => void;

const intervalSchedule: Schedule = (tick, ms) => {
  const timer = setInterval(() => void tick(), ms);
  // The refresh must never keep a process (the CLI, a test) alive on its own.
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Holds the current deny-list: read at startup (no readable list, no start), then again every
 * 30 s in the background. When a read fails the last good copy stays in force, with a log line.
 */
export class DenyListWatcher {
  #current: DenyList = EMPTY_DENY_LIST;
  #stop: (() => void) | undefined;

  private constructor(readonly source: DenyListSource) {}

  static async start(source: DenyListSource, options: { intervalMs?: number; schedule?: Schedule } = {}): Promise<DenyListWatcher> {
    const watcher = new DenyListWatcher(source);
    let text: string;
    try {
      text = await source.read();
    } catch (err) {
      // Unreadable now (Key Vault down, the secret not yet created): the starter may retry.
      throw new ConfigError(`TOKEX_DENY_LIST: ${err instanceof TokexError ? err.detail : (err as Error).message}`, { cause: err });
    }
    // Readable but not a deny-list: a setting to fix, not to retry.
    watcher.#current = parseDenyList(text, `TOKEX_DENY_LIST: ${source.name}`);
    watcher.#stop = (options.schedule ?? intervalSchedule)(() => watcher.refresh(), options.intervalMs ?? DENY_LIST_REFRESH_MS);
    return watcher;
  }

  current(): DenyList {
    return this.#current;
  }

  /** Reads the list again; on failure keeps the last good copy and says so. Never throws. */
  async refresh(): Promise<void> {
    try {
      this.#current = parseDenyList(await this.source.read(), this.source.name);
    } catch (err) {
      log.warn('deny-list could not be read; keeping the last good copy', {
        source: this.source.name,
        error: err instanceof TokexError ? err.detail : (err as Error).message,
      });
    }
  }

  stop(): void {
    this.#stop?.();
  }
}
