import type { Caller } from './caller/caller.js';
import { TokexError } from './errors.js';

/** How one check of a decision went; `SKIP` when it could not run (no signature to check). */
export type StepOutcome = 'PASS' | 'FAIL' | 'SKIP';

/** One check the server runs, in its order, with the values compared (quoted, never a token). */
export interface Step {
  readonly check: string;
  readonly outcome: StepOutcome;
  readonly actual?: string;
  readonly expected?: string;
  /** Why it failed (the refusal's audit detail). */
  readonly detail?: string;
}

/**
 * Watches a decision as it runs: the validator and the policy decision report each check to
 * `step` (what `tokex policy explain` prints) and the caller to `caller` once its identity is
 * known (what the audit record names, also when a later check refuses it).
 */
export interface Trace {
  step?(step: Step): void;
  caller?(caller: Caller): void;
  /** Delegation: the actor token's identity, once its signature verified. */
  actor?(actor: Caller): void;
  /** The rule the decision chose (also when a later check refuses). */
  rule?(name: string): void;
}

type Values = { readonly actual?: string | undefined; readonly expected?: string | undefined };

/**
 * Runs one check, reporting PASS with `values`, or FAIL with the refusal's detail and rethrowing it.
 * `values` is computed only when someone listens (explain), never on the server's request path.
 */
export function check<T>(trace: Trace | undefined, name: string, values: () => Values, run: () => T): T {
  try {
    const result = run();
    trace?.step?.(step(name, 'PASS', values));
    return result;
  } catch (err) {
    trace?.step?.(step(name, 'FAIL', values, err));
    throw err;
  }
}

export async function checkAsync<T>(trace: Trace | undefined, name: string, values: () => Values, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    trace?.step?.(step(name, 'PASS', values));
    return result;
  } catch (err) {
    trace?.step?.(step(name, 'FAIL', values, err));
    throw err;
  }
}

export function skip(trace: Trace | undefined, name: string, why: string): void {
  trace?.step?.({ check: name, outcome: 'SKIP', detail: why });
}

function step(name: string, outcome: StepOutcome, lazy: () => Values, err?: unknown): Step {
  const values = lazy();
  return {
    check: name,
    outcome,
    ...(values.actual !== undefined && { actual: values.actual }),
    ...(values.expected !== undefined && { expected: values.expected }),
    ...(err !== undefined && { detail: err instanceof TokexError ? err.detail : `unexpected ${(err as Error)?.name ?? 'error'}` }),
  };
}
