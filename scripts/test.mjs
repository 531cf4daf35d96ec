#!/usr/bin/env node
/**
 * `npm test`: builds and runs the suite, with `tsc -b test` (type-check of the tests) and `biome ci`
 * beside it, instead of one after the other: the suite waits on child processes and deadlines often
 * enough that the checks' CPU fits in.
 * - vitest starts with the build; its global setup waits for the build before any test runs.
 * - The checks run at low priority, so they take what the build and the tests leave.
 * - The type-check starts once the build is done: test/tsconfig.json references the sources' project,
 *   which `tsc -b` then finds up to date, so it checks the tests against the declarations just built
 *   instead of checking every source file a second time.
 * - The checks' output follows vitest's; vitest's closing `tests: N passed, N failed, N skipped` line
 *   (test/summary-reporter.ts) is held back and printed last.
 * Exits nonzero when the build, a check or a test fails; a failed build runs no tests.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const SUMMARY = /^tests: \d+ passed, \d+ failed, \d+ skipped$/;
// Beside vitest's start-up and the suite, the compiler's own threads only add CPU: on 2 cores,
// single-threaded it builds in the same time with some 40% less CPU (measured; TypeScript 7).
const SINGLE_THREADED = ['--singleThreaded'];

/**
 * Runs a command. Its output is kept and returned, or with `onLine` passed on line by line as it
 * comes (stderr as is): `onLine` returns true for a line it keeps back. The promise carries the child.
 */
function run(command, args, { onLine, lowPriority = false, env = process.env } = {}) {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise((resolve) => {
    if (lowPriority && child.pid !== undefined) {
      try {
        setPriority(child.pid, 10);
      } catch {
        // Not allowed here: it runs at normal priority, which is only slower.
      }
    }
    let output = '';
    let partial = '';
    const passOn = (line, end) => {
      if (!onLine(line)) process.stdout.write(`${line}${end}`);
    };
    child.stdout.on('data', (chunk) => {
      if (!onLine) {
        output += chunk;
        return;
      }
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) passOn(line, '\n');
    });
    child.stderr.on('data', (chunk) => {
      if (onLine) process.stderr.write(chunk);
      else output += chunk;
    });
    child.on('error', (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.on('close', (code, signal) => {
      if (onLine && partial) passOn(partial, '');
      resolve({ code: code ?? (signal ? 1 : 0), output });
    });
  });
  return Object.assign(done, { child });
}

const checks = [['biome ci .', run(bin('biome'), ['ci', '.', `--colors=${process.stdout.isTTY ? 'force' : 'off'}`], { lowPriority: true })]];

/**
 * `npm run build`, step by step: the compiler, then the bundle of the `tokex` command
 * (tools/build-bin.ts, just compiled). The compiler builds everything every time (`--force`): the
 * project is `composite` (for `tsc -b test`), and an incremental build would not write again an
 * output someone deleted.
 */
async function build() {
  for (const [name, command, args] of [
    ['tsc -b tsconfig.json --force', bin('tsc'), ['-b', 'tsconfig.json', '--force', ...SINGLE_THREADED]],
    ['node dist/tools/build-bin.js', process.execPath, [join(root, 'dist/tools/build-bin.js')]],
  ]) {
    const { code, output } = await run(command, args);
    if (code !== 0) {
      process.stdout.write(`> ${name} failed (exit ${code}): no tests run\n${output}`);
      return code;
    }
    if (output) process.stdout.write(`> ${name}\n${output}`);
  }
  return 0;
}

// vitest starts now, beside the build: its start-up overlaps the compiler, and its global setup waits
// for the exit code written to this file before any test runs (test/build-status.ts).
const buildStatus = join(mkdtempSync(join(tmpdir(), 'tokex-build-')), 'status');
let summary;
// Colors as on a terminal when this is one (vitest sees a pipe).
if (process.stdout.isTTY) process.env.FORCE_COLOR ??= '1';
const tests = run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run'], {
  env: { ...process.env, TOKEX_BUILD_STATUS: buildStatus },
  onLine: (line) => {
    if (!SUMMARY.test(line)) return false;
    summary = line;
    return true;
  },
});
const buildCode = await build();
writeFileSync(buildStatus, String(buildCode));
if (buildCode === 0) checks.unshift(['tsc -b test', run(bin('tsc'), ['-b', 'test', ...SINGLE_THREADED], { lowPriority: true })]);
// The compiler's errors above say it all; vitest's own report of a failed global setup would only add noise.
else tests.child.kill();
const testsCode = (await tests).code;
rmSync(dirname(buildStatus), { recursive: true, force: true });
const checkCodes = [];
for (const [name, done] of checks) {
  const { code, output } = await done;
  process.stdout.write(`\n> ${name}${code === 0 ? '' : ` failed (exit ${code})`}\n${output}`);
  checkCodes.push(code);
}
if (summary) process.stdout.write(`\n${summary}\n`);
process.exitCode = [buildCode, testsCode, ...checkCodes].some((code) => code !== 0) ? 1 : 0;
