#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { runTokex } from './program.js';

// Bundled into dist/bin/: package.json is two folders up.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const exitCode = await runTokex(
  process.argv.slice(2),
  { env: process.env, cwd: process.cwd(), out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) },
  version,
);
// Not process.exit(): output still queued for a pipe would be cut off. What a failed start leaves
// behind (timers, the telemetry thread) is unref'd, so the process ends once its output is written.
process.exitCode = exitCode;
