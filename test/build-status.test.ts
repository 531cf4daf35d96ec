/** The global setup's wait for the build that `npm test` runs beside vitest (test/build-status.ts). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtBeforeTests } from './build-status.js';

const statusFile = () => join(mkdtempSync(join(tmpdir(), 'tokex-build-status-')), 'status');

describe('builtBeforeTests', () => {
  it('waits for the exit code, then lets the tests run when it is 0', async () => {
    const file = statusFile();
    let done = false;
    const waiting = builtBeforeTests(file, 10_000).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 60));
    expect(done).toBe(false);
    writeFileSync(file, '0');
    await waiting;
    expect(done).toBe(true);
  });

  it('refuses to run the tests after a failed build', async () => {
    const file = statusFile();
    writeFileSync(file, '2');
    await expect(builtBeforeTests(file, 10_000)).rejects.toThrow('the build failed (exit 2), see above: no tests run');
  });

  it('gives up, saying so, when no status is ever written', async () => {
    const file = statusFile();
    await expect(builtBeforeTests(file, 50)).rejects.toThrow(`no build status in ${file} (TOKEX_BUILD_STATUS) after 0.05 s: no tests run`);
  });

  it('waits for nothing when vitest runs without npm test', async () => {
    await expect(builtBeforeTests(undefined)).resolves.toBeUndefined();
  });
});
