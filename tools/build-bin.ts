/**
 * The `tokex` command as `npm run build` leaves it: `dist/bin/tokex.js`, the CLI bundled with its
 * dependencies into a few ES modules (each command's modules a chunk of their own, loaded when it
 * runs). Every run of tokex is a new process, and most of a run's CPU went into finding and loading
 * modules one by one (277 for `tokex policy check`; 16 files bundled): bundled, it and the start of
 * `tokex serve` take about half the CPU they did (README, "Command line").
 * Left as they are, loaded from node_modules when used: @azure/functions (the local host requires
 * it only to speak the programming model's request and response types) and applicationinsights
 * (only the telemetry worker, started when Application Insights is configured, loads it).
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { bundleOptions } from './esbuild-options.js';

export async function buildBin(root: string, out = join(root, 'dist/bin')): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  await build({
    ...bundleOptions(root, out),
    entryPoints: { tokex: 'cli/tokex.ts', 'app-insights-worker': 'shared/audit/app-insights-worker.ts' },
    external: ['@azure/functions-core', '@azure/functions', 'applicationinsights'],
  });
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename);
if (isMain) await buildBin(resolve(import.meta.dirname, '../..'));
