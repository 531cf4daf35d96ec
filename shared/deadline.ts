import { TokexError } from './errors.js';

/** The most one request may spend on downstream calls (Entra, managed identity, Key Vault), retries included. */
export const DOWNSTREAM_DEADLINE_MS = 10_000;

/**
 * Runs `work` with an abort signal that fires at the deadline, and gives up at the deadline even if
 * `work` ignores the signal: past it the caller gets 503 `downstream_unavailable`, never a hang.
 */
export async function withDeadline<T>(what: string, work: (signal: AbortSignal) => Promise<T>, ms = DOWNSTREAM_DEADLINE_MS): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Reject first, so the race settles with the deadline rather than the work's AbortError.
      reject(new TokexError('downstream_unavailable', `${what}: no answer within ${ms} ms`, { retryAfter: 5 }));
      controller.abort();
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
