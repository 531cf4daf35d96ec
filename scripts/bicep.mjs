#!/usr/bin/env node
/**
 * Compiles and lints infra/main.bicep with the real Bicep CLI, failing on any error or warning.
 *
 *   node scripts/bicep.mjs restore              fetch the CLI into .cache/bicep/ (CI does this first)
 *   (TOKEX_BICEP_CACHE=DIR uses another cache folder)
 *   node scripts/bicep.mjs [--out FILE] [FILE]  restore if needed, then `bicep build` (which lints)
 *
 * The CLI comes from NuGet (package Azure.Bicep.CommandLine.<rid>) through `dotnet restore` of a
 * throwaway project with a PackageDownload item, so no host name is written here: the machine's NuGet
 * configuration says where the registry is. The version is pinned so diagnostics (notably
 * use-recent-api-versions, see infra/bicepconfig.json) do not change under us.
 * Linter rules are raised to error level in infra/bicepconfig.json; compiler warnings (BCPxxx) cannot be
 * raised there, so this script treats every "Warning" diagnostic as a failure as well.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BICEP_VERSION = '0.49.2';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// TOKEX_BICEP_CACHE moves the cache (tests use it to show what a failed restore says).
const cacheDir = process.env.TOKEX_BICEP_CACHE ? resolve(process.env.TOKEX_BICEP_CACHE) : join(root, '.cache', 'bicep');

/** The NuGet runtime identifier of this machine (the package exists per platform). */
function runtimeId() {
  const os = { linux: 'linux', darwin: 'osx', win32: 'win' }[process.platform];
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (!os || !arch) throw new BicepError('BICEP_UNSUPPORTED_PLATFORM', `no Bicep CLI package for ${process.platform}-${process.arch}`);
  return `${os}-${arch}`;
}

export class BicepError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'BicepError';
    this.code = code;
  }
}

/**
 * @param {string} file @param {string[]} args @param {{ cwd?: string, timeoutMs?: number }} [options]
 * @returns {Promise<{ code: number, stdout: string, stderr: string, error?: NodeJS.ErrnoException }>}
 */
function run(file, args, options = {}) {
  return new Promise((done) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd ?? root,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        // DOTNET_gcConcurrent=0: no background GC thread, which a run of a second or two never needs (a
        // tenth of the Bicep CLI's CPU, measured; the output is the same).
        env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_gcConcurrent: '0' },
      },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, ...(error && { error }) }),
    );
  });
}

/** Path of the Bicep CLI, restoring the NuGet package into .cache/bicep/ on first use. */
export async function ensureBicep() {
  const rid = runtimeId();
  const packageId = `Azure.Bicep.CommandLine.${rid}`;
  const packages = join(cacheDir, 'packages');
  const binary = join(packages, packageId.toLowerCase(), BICEP_VERSION, 'tools', process.platform === 'win32' ? 'bicep.exe' : 'bicep');
  if (existsSync(binary)) return binary;

  const dotnet = await run('dotnet', ['--version']);
  if (dotnet.error?.code === 'ENOENT')
    throw new BicepError('BICEP_NO_DOTNET', `cannot restore NuGet package ${packageId} ${BICEP_VERSION}: the dotnet command (.NET SDK) is not installed`);
  const major = /^(\d+)\./.exec(dotnet.stdout.trim())?.[1];
  if (dotnet.code !== 0 || !major)
    throw new BicepError(
      'BICEP_NO_DOTNET',
      `cannot restore NuGet package ${packageId} ${BICEP_VERSION}: \`dotnet --version\` failed: ${(dotnet.stderr || dotnet.stdout).trim()}`,
    );

  // A project that builds nothing: restoring it downloads exactly this package version into `packages`.
  const project = join(cacheDir, 'restore');
  mkdirSync(project, { recursive: true });
  writeFileSync(
    join(project, 'bicep-cli.csproj'),
    `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net${major}.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="${packageId}" Version="[${BICEP_VERSION}]" /></ItemGroup>
</Project>
`,
  );
  const restore = await run('dotnet', ['restore', 'bicep-cli.csproj', '--packages', packages], { cwd: project, timeoutMs: 600_000 });
  if (restore.code !== 0 || !existsSync(binary)) {
    const detail = `${restore.stdout}\n${restore.stderr}`
      .split('\n')
      .filter((l) => /error|warn/i.test(l))
      .slice(0, 5)
      .join('\n')
      .trim();
    throw new BicepError(
      'BICEP_RESTORE_FAILED',
      `cannot restore NuGet package ${packageId} ${BICEP_VERSION} with \`dotnet restore\` (exit ${restore.code}${restore.error?.killed ? ', timed out' : ''}): ${detail || 'the package is not where NuGet should have put it'}`,
    );
  }
  if (process.platform !== 'win32') chmodSync(binary, 0o755);
  return binary;
}

/**
 * One diagnostic line of the Bicep CLI: `path(line,col) : Level code: message [link]`.
 * @typedef {{ file: string, line: number, column: number, level: string, code: string, message: string }} Diagnostic
 * @param {string} text @returns {Diagnostic[]}
 */
export function parseDiagnostics(text) {
  const found = [];
  for (const m of text.matchAll(/^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*)$/gm)) {
    found.push({ file: m[1], line: Number(m[2]), column: Number(m[3]), level: m[4], code: m[5], message: m[6] });
  }
  return found;
}

/**
 * Builds `file`, which lints it: `bicep lint` is `bicep build` without the output. Both make the same
 * compilation and print all its diagnostics, the linter's among them (Bicep's LintCommand and
 * BuildCommand), so running both would only start the .NET CLI twice. Resolves to the ARM template,
 * or rejects with every diagnostic when there is an error or a warning (or the CLI fails without one).
 * @param {string} file @returns {Promise<{ template: Record<string, unknown>, diagnostics: Diagnostic[] }>}
 */
export async function buildAndLint(file) {
  const bicep = await ensureBicep();
  const build = await run(bicep, ['build', file, '--stdout']);
  const diagnostics = parseDiagnostics(build.stderr);
  const failing = diagnostics.filter((d) => d.level !== 'Info');
  if (failing.length > 0) {
    throw new BicepError(
      'BICEP_DIAGNOSTICS',
      `bicep ${BICEP_VERSION} reports ${failing.length} problem(s) in ${file}:\n${failing.map((d) => `${d.file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}`).join('\n')}`,
    );
  }
  if (build.code !== 0) throw new BicepError('BICEP_FAILED', `bicep build exited ${build.code}: ${build.stderr.trim()}`);
  return { template: JSON.parse(build.stdout), diagnostics };
}

async function main(argv) {
  if (argv[0] === 'restore') {
    process.stdout.write(`${await ensureBicep()}\n`);
    return;
  }
  const { values, positionals } = parseArgs({ args: argv, options: { out: { type: 'string' } }, allowPositionals: true });
  const out = values.out;
  const file = resolve(positionals[0] ?? join(root, 'infra', 'main.bicep'));
  const { template, diagnostics } = await buildAndLint(file);
  if (out) writeFileSync(out, `${JSON.stringify(template, null, 2)}\n`);
  for (const d of diagnostics) process.stderr.write(`${d.file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}\n`);
  process.stdout.write(`bicep ${BICEP_VERSION}: ${file} builds and lints with no errors or warnings${out ? ` (ARM template: ${out})` : ''}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`${error instanceof BicepError ? `${error.code}: ${error.message}` : (error?.stack ?? error)}\n`);
    process.exitCode = 1;
  });
}
