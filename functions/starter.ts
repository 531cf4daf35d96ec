import { withDeadline } from '../shared/deadline.js';
import { ConfigError, TokexError } from '../shared/errors.js';
import { log } from '../shared/log.js';
import type { Tokex } from '../shared/tokex.js';

/** Well inside Flex Consumption's 30 s for a worker to load its entry point. */
export const STARTUP_DEADLINE_MS = 20_000;
/** After a failed startup the next attempt waits 1 s, then 2, 4, … up to a minute. */
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 60_000;

export interface StarterOptions {
  readonly deadlineMs?: number;
  readonly firstRetryMs?: number;
  readonly maxRetryMs?: number;
  readonly now?: () => number;
}

/** What the handlers need from the app: the started core, or a TokexError saying when to come back. */
export interface TokexApp {
  tokex(): Promise<Tokex>;
}

type State =
  | { readonly kind: 'idle' }
  | { readonly kind: 'starting'; readonly attempt: Promise<Tokex> }
  | { readonly kind: 'ready'; readonly tokex: Tokex }
  | { readonly kind: 'failed'; readonly error: Error; readonly retryAt: number; readonly delayMs: number };

/**
 * Holds tokex's startup: one attempt at a time, each within a deadline. A failed attempt is not
 * kept for good: the next request after the backoff tries again (a Key Vault hiccup, or role
 * assignments still propagating, must not need an instance recycle), and requests meanwhile fail
 * fast with a TokexError carrying Retry-After.
 */
export class Starter implements TokexApp {
  #state: State = { kind: 'idle' };
  readonly #deadlineMs: number;
  readonly #firstRetryMs: number;
  readonly #maxRetryMs: number;
  readonly #now: () => number;

  constructor(
    private readonly start: () => Promise<Tokex>,
    options: StarterOptions = {},
  ) {
    this.#deadlineMs = options.deadlineMs ?? STARTUP_DEADLINE_MS;
    this.#firstRetryMs = options.firstRetryMs ?? FIRST_RETRY_MS;
    this.#maxRetryMs = options.maxRetryMs ?? MAX_RETRY_MS;
    this.#now = options.now ?? (() => Date.now());
  }

  /** The started core; starts (again) when due. Throws a TokexError `downstream_unavailable` while it cannot. */
  async tokex(): Promise<Tokex> {
    const state = this.#state;
    switch (state.kind) {
      case 'ready':
        return state.tokex;
      case 'starting':
        return state.attempt;
      case 'failed': {
        const wait = state.retryAt - this.#now();
        if (wait > 0) throw notStarted(state.error, Math.ceil(wait / 1000));
        return this.#attempt(state.delayMs);
      }
      case 'idle':
        return this.#attempt(0);
    }
  }

  /**
   * The first attempt, for the entry point to await. Rejects only for a permanent problem (bad
   * settings or policy: no retry can fix those); a transient failure is logged and left to the
   * next request's retry.
   */
  async ready(): Promise<Tokex | undefined> {
    try {
      return await this.tokex();
    } catch (err) {
      const cause = err instanceof TokexError && err.cause instanceof Error ? err.cause : (err as Error);
      if (isPermanent(cause)) throw cause;
      return undefined;
    }
  }

  /** Delivers queued audit telemetry before the worker goes away (nothing to do if never started). */
  async flush(): Promise<void> {
    if (this.#state.kind === 'ready') await this.#state.tokex.auditor.flush();
  }

  #attempt(previousDelayMs: number): Promise<Tokex> {
    const attempt = withDeadline('tokex startup', () => this.start(), this.#deadlineMs).then(
      (tokex) => {
        this.#state = { kind: 'ready', tokex };
        return tokex;
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        const delayMs = previousDelayMs === 0 ? this.#firstRetryMs : Math.min(previousDelayMs * 2, this.#maxRetryMs);
        this.#state = { kind: 'failed', error, retryAt: this.#now() + delayMs, delayMs };
        log.error('tokex startup failed', { error: describe(error), permanent: isPermanent(error), retryInSeconds: Math.ceil(delayMs / 1000) });
        throw notStarted(error, Math.ceil(delayMs / 1000));
      },
    );
    this.#state = { kind: 'starting', attempt };
    return attempt;
  }
}

/** Bad settings or policy. A ConfigError caused by an unreachable Key Vault is not: it may pass. */
export function isPermanent(err: Error): boolean {
  return err instanceof ConfigError && !(err.cause instanceof TokexError);
}

function notStarted(cause: Error, retryAfter: number): TokexError {
  return new TokexError('downstream_unavailable', `tokex is not started (${describe(cause)})`, { cause, retryAfter: Math.max(1, retryAfter) });
}

/** Our own errors' messages name a setting or a downstream status and are safe to log; others by name only. */
function describe(err: Error): string {
  return err instanceof ConfigError ? err.message : err instanceof TokexError ? err.detail : err.name;
}
