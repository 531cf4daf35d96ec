/**
 * `npm test` (scripts/test.mjs) starts vitest while it builds, so vitest's own start-up (config, the
 * global setup's keys and CA) overlaps the compiler. It names a file in TOKEX_BUILD_STATUS and writes
 * the build's exit code there when the build ends; the global setup waits for it before any test file
 * runs (the tests spawn the built `tokex` and load dist/). Unset, as when vitest is run directly, there
 * is nothing to wait for: `npm run build` is the caller's to run first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const BUILD_STATUS_VARIABLE = 'TOKEX_BUILD_STATUS';

/** Far past any build here (about 2 s): a status never written means the caller is gone. */
const BUILD_WAIT_MS = 5 * 60_000;

export async function builtBeforeTests(statusFile: string | undefined, waitMs = BUILD_WAIT_MS): Promise<void> {
  if (!statusFile) return;
  const since = Date.now();
  while (!existsSync(statusFile) || readFileSync(statusFile, 'utf8') === '') {
    if (Date.now() - since > waitMs) throw new Error(`no build status in ${statusFile} (${BUILD_STATUS_VARIABLE}) after ${waitMs / 1000} s: no tests run`);
    await sleep(20);
  }
  const code = readFileSync(statusFile, 'utf8').trim();
  if (code !== '0') throw new Error(`the build failed (exit ${code}), see above: no tests run`);
}
