import { defineConfig } from 'vitest/config';

/**
 * Files that leave something process-wide behind, so each runs in a fresh process: the Azure SDKs
 * cache per process (managed-identity source and endpoint, see the reference notes), and these set
 * process.env, start the core in-process (log listeners, sinks, worker threads), or patch globals
 * (Module.prototype.require, stdout, timers).
 */
const ISOLATED = [
  'test/deploy/package.test.ts',
  'test/functions/handlers.test.ts',
  'test/functions/starter.test.ts',
  'test/shared/audit/app-insights-sink.test.ts',
  'test/shared/deny/deny-list.test.ts',
  'test/shared/grants/downstream.integration.test.ts',
  'test/shared/grants/on-behalf-of.integration.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    setupFiles: ['./test/setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      // First, on their own: these wait on deadlines and child processes (a package build, the App
      // Insights SDK in a worker thread) more than they compute, so four side by side keep 2 cores busy.
      { extends: true, test: { name: 'isolated', include: ISOLATED, maxWorkers: 4, sequence: { groupOrder: 0 } } },
      // Then the rest, sharing their worker processes (a fork and the modules' loading per file cost more
      // than most files). They mostly compute: one process per core.
      {
        extends: true,
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false, maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
