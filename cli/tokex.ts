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
// A failed command is over even when something it started still holds the event loop (a host that
// failed half-way through its start); a served host keeps running.
if (exitCode !== 0) process.exit(exitCode);
