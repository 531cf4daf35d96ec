import { defineConfig, type Plugin } from 'vitest/config';
import { startingWith } from './test/sequencer.js';

/**
 * Files that leave something process-wide behind, so each runs in a fresh process: the Azure SDKs
 * cache per process (managed-identity source and endpoint, see the reference notes), and these set
 * process.env or start the core in-process with Key Vault or Application Insights (timers, log
 * listeners, worker threads); the deploy test's child processes keep the cores busy while the others
 * wait. Listed longest first: they start in this order (test/sequencer.ts).
 */
const ISOLATED = [
  'test/deploy/package.test.ts',
  'test/shared/grants/downstream.integration.test.ts',
  'test/shared/grants/on-behalf-of.integration.test.ts',
  'test/shared/audit/app-insights-sink.test.ts',
  'test/shared/deny/deny-list.test.ts',
];

/**
 * A project's `sequence.groupOrder`, set once its config is resolved: vitest replaces a project's
 * whole `sequence` with the command line's (`--sequence.shuffle`, `--sequence.seed`), which would
 * put both projects in one group, where their different maxWorkers are refused.
 */
function groupOrder(order: number): Plugin {
  return {
    name: 'tokex:group-order',
    configResolved(config) {
      if (config.test) config.test.sequence = { ...config.test.sequence, groupOrder: order };
    },
  };
}

/** The other files that take seconds, longest first (as measured): they start first, in this order. */
const LONG = [
  'test/clients/python.test.ts',
  'test/infra/infra.test.ts',
  'test/attacks/jwt-attacks.test.ts',
  'test/shared/audit/app-insights.test.ts',
  'test/functions/azure-mode.test.ts',
  'test/cli/policy-cli.test.ts',
  'test/infra/hooks/hooks.test.ts',
  'test/package/surface.test.ts',
  'test/client/tokex-credential.test.ts',
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
    // Unless the command line asks for a shuffled order (--sequence.shuffle[.files|.tests]), which a
    // custom sequencer would silently replace: then vitest's own, seeded.
    ...(!process.argv.some((arg) => arg.startsWith('--sequence.shuffle')) && { sequence: { sequencer: startingWith([...ISOLATED, ...LONG]) } }),
    projects: [
      // First, on their own: these wait on deadlines and child processes (a package build, the App
      // Insights SDK in a worker thread) more than they compute, so four side by side keep 2 cores busy.
      { extends: true, plugins: [groupOrder(0)], test: { name: 'isolated', include: ISOLATED, maxWorkers: 4 } },
      // Then the rest, sharing their worker processes (a fork and the modules' loading per file cost more
      // than most files). They mostly compute: one process per core.
      {
        extends: true,
        plugins: [groupOrder(1)],
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false, maxWorkers: 2 },
      },
    ],
  },
});
