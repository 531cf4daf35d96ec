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
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
      // The rest share their worker processes (a fork and the modules' loading per file cost more than most files).
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
    ],
  },
});
