#!/usr/bin/env node
/**
 * The Node.js that Azure runs tokex on (22), for the benchmark to run the deployed package under it
 * whatever Node this machine has. Fetched once from the npm registry (the official build, published
 * as node-<platform>-<arch>) into .cache/node22/, and the binary's path printed.
 *
 *   node scripts/node22.mjs          install if missing, print the path
 *   node scripts/node22.mjs --help
 *
 * Exits 1, saying why, when the platform has no such package or npm cannot fetch it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Pinned: a cold-start figure is only comparable with one taken on the same runtime. */
export const NODE22_VERSION = '22.23.3';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, '.cache', 'node22');

/** The path of the Node 22 binary, installing it first if needed. Throws an Error saying why it cannot. */
export function node22() {
  const os = { linux: 'linux', darwin: 'darwin' }[process.platform];
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (!os || !arch) throw new Error(`no node-${process.platform}-${process.arch} package on npm`);
  const pkg = `node-${os}-${arch}`;
  const binary = join(cacheDir, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(binary)) {
    // npm's own output goes to stderr, so stdout carries only the path.
    execFileSync('npm', ['install', '--prefix', cacheDir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${pkg}@${NODE22_VERSION}`], {
      stdio: ['ignore', 2, 2],
    });
  }
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  if (version !== `v${NODE22_VERSION}`) throw new Error(`${binary} is ${version}, not v${NODE22_VERSION}: delete ${cacheDir} and run again`);
  return binary;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(
      "usage: node scripts/node22.mjs\n\nInstalls Node.js %s (Azure's runtime for tokex) into .cache/node22/ if missing and prints its path.",
      NODE22_VERSION,
    );
  } else {
    try {
      console.log(node22());
    } catch (err) {
      console.error(`node22: ${err.message}`);
      process.exitCode = 1;
    }
  }
}
