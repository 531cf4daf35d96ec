import { defineConfig } from 'vitest/config';
import { startingWith } from './test/sequencer.js';

/**
 * Files that leave something process-wide behind, so each runs in a fresh process: the Azure SDKs
 * cache per process (managed-identity source and endpoint, see the reference notes), and these start
 * the core in-process with Key Vault, or leave log listeners and worker threads running (the App
 * Insights sink's tests).
 */
const ISOLATED = [
  'test/shared/grants/downstream.integration.test.ts',
  'test/shared/grants/on-behalf-of.integration.test.ts',
  'test/shared/audit/app-insights-sink.test.ts',
  'test/shared/deny/deny-list.test.ts',
];

/**
 * The files that take seconds, longest first (as measured): they start first, in this order
 * (test/sequencer.ts), so that the short ones fill the end.
 */
const LONG = [
  'test/deploy/package.test.ts',
  'test/shared/grants/downstream.integration.test.ts',
  'test/clients/python.test.ts',
  'test/shared/grants/on-behalf-of.integration.test.ts',
  'test/infra/infra.test.ts',
  'test/attacks/jwt-attacks.test.ts',
  'test/shared/audit/app-insights.test.ts',
  'test/functions/azure-mode.test.ts',
  'test/cli/policy-cli.test.ts',
  'test/infra/hooks/hooks.test.ts',
  'test/shared/deny/deny-list.test.ts',
  'test/package/surface.test.ts',
  'test/client/tokex-credential.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    setupFiles: ['./test/setup.ts'],
    pool: 'forks',
    // Three files at a time on 2 cores, for both projects together: the suite waits on child processes,
    // deadlines and servers often enough that two would leave a core idle; a fourth process only adds
    // its module loading (interleaved runs: 2 files 29.5-29.9 s, 3 files 23.9-26.4 s, 4 files 24.8-29.5 s).
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/summary-reporter.ts'],
    // Unless the command line asks for a shuffled order (--sequence.shuffle[.files|.tests]), which a
    // custom sequencer would silently replace: then vitest's own, seeded.
    ...(!process.argv.some((arg) => arg.startsWith('--sequence.shuffle')) && { sequence: { sequencer: startingWith(LONG) } }),
    projects: [
      // Each in a process of its own.
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
      // The rest share their worker processes (a fork and the modules' loading per file cost more than
      // most files).
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
    ],
  },
});
