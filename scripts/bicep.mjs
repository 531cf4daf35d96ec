#!/usr/bin/env node
/**
 * Compiles and lints infra/main.bicep with the real Bicep CLI, failing on any error or warning.
 *
 *   node scripts/bicep.mjs restore                   fetch the CLI into .cache/bicep/ (CI does this first)
 *   node scripts/bicep.mjs [--outdir DIR] [FILE...]  restore if needed, then `bicep lint`, then `bicep build`, of each file
 *   (TOKEX_BICEP_CACHE=DIR uses another cache folder; TOKEX_BICEP_TIMEOUT_MS limits a run)
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
import { basename, dirname, join, resolve } from 'node:path';
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

/** How long one run of the Bicep CLI may take in all (TOKEX_BICEP_TIMEOUT_MS; tests shorten it). */
const TIMEOUT_MS = Number(process.env.TOKEX_BICEP_TIMEOUT_MS) > 0 ? Number(process.env.TOKEX_BICEP_TIMEOUT_MS) : 120_000;

// DOTNET_gcConcurrent=0: no background GC thread, which a run of a second or two never needs (a
// tenth of the Bicep CLI's CPU, measured; the output is the same).
const DOTNET_ENV = { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_gcConcurrent: '0' };

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
        env: DOTNET_ENV,
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

/** @typedef {{ file: string, line: number, column: number, level: string, code: string, message: string }} Diagnostic */
/** @typedef {{ file: string, template?: Record<string, unknown>, diagnostics: Diagnostic[], error?: BicepError }} BuildResult */

/**
 * The diagnostic lines of the Bicep CLI: `path(line,col) : Level code: message [link]`.
 * @param {string} text @returns {Diagnostic[]}
 */
export function parseDiagnostics(text) {
  const found = [];
  for (const m of text.matchAll(/^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*)$/gm)) {
    found.push({ file: m[1], line: Number(m[2]), column: Number(m[3]), level: m[4], code: m[5], message: m[6] });
  }
  return found;
}

/** Errors and warnings fail a file (compiler warnings cannot be raised to errors in bicepconfig.json). */
const failing = (/** @type {Diagnostic} */ d) => d.level !== 'Info';

/** Why a run of the CLI gave no answer, in one line; undefined when it ran to its end. */
function failureOf(/** @type {string} */ command, /** @type {Awaited<ReturnType<typeof run>>} */ result, /** @type {number} */ timeoutMs) {
  if (!result.error) return undefined;
  if (result.error.killed) return `${command} took more than ${timeoutMs / 1000} s`;
  if (typeof result.error.code === 'string') return `${command} could not be started (${result.error.code})`;
  const said = result.stderr.trim().replace(/\s*\n\s*/g, ' ');
  return `${command} exited ${result.code}${said ? `: ${said}` : ''}`;
}

/**
 * Lints each file with `bicep lint`, then builds it with `bicep build` if the lint passed (issue 10
 * asks for both commands; they print the same compilation's diagnostics, so a file the lint fails is
 * not built). A file fails on any error or warning, when a command fails without one, or when the
 * build gives no template. The files are checked side by side, each whatever the others give.
 * @param {string[]} files @param {{ timeoutMs?: number }} [options] @returns {Promise<BuildResult[]>}
 */
export async function buildAndLint(files, { timeoutMs = TIMEOUT_MS } = {}) {
  const bicep = await ensureBicep();
  return Promise.all(
    files.map(async (f) => {
      const file = resolve(f);
      const lint = await run(bicep, ['lint', file], { timeoutMs });
      const linted = parseDiagnostics(lint.stdout + lint.stderr);
      // A file the lint fails is not built: the build would report the same diagnostics again.
      const build = lint.error || linted.some(failing) ? undefined : await run(bicep, ['build', file, '--stdout'], { timeoutMs });
      const all = [...linted, ...parseDiagnostics(build?.stderr ?? '')];
      const diagnostics = [...new Map(all.map((d) => [`${d.file}:${d.line}:${d.column}:${d.code}`, d])).values()];
      const problems = diagnostics.filter(failing);
      if (problems.length > 0) {
        const message = `bicep ${BICEP_VERSION} reports ${problems.length} problem(s) in ${file}:\n${problems.map(formatDiagnostic).join('\n')}`;
        return { file, diagnostics, error: new BicepError('BICEP_DIAGNOSTICS', message) };
      }
      const failure = failureOf('bicep lint', lint, timeoutMs) ?? (build && failureOf('bicep build', build, timeoutMs));
      const cannot = (/** @type {string} */ why) => ({
        file,
        diagnostics,
        error: new BicepError('BICEP_FAILED', `bicep ${BICEP_VERSION} cannot build ${file}: ${why}`),
      });
      if (failure) return cannot(failure);
      try {
        return { file, diagnostics, template: JSON.parse(build?.stdout ?? '') };
      } catch {
        return cannot('bicep build printed no template');
      }
    }),
  );
}

/** As the Bicep CLI prints a diagnostic: `path(line,col) : Level code: message`. @param {Diagnostic} d */
export const formatDiagnostic = (d) => `${d.file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}`;

const USAGE = `Usage:
  node scripts/bicep.mjs [--outdir DIR] [FILE...]   lint, then build (default: infra/main.bicep); exit 1 on any error or warning
  node scripts/bicep.mjs restore                    fetch the pinned Bicep CLI into .cache/bicep/
Options:
  --outdir DIR  write each file's ARM template to DIR/<name>.json (made if missing)
  -h, --help    print this
Exit 2 on a usage error. TOKEX_BICEP_CACHE moves the cache; TOKEX_BICEP_TIMEOUT_MS limits a run (default 120000).
`;

async function main(argv) {
  if (argv[0] === 'restore') {
    process.stdout.write(`${await ensureBicep()}\n`);
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { outdir: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  } catch (error) {
    process.stderr.write(`${error.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const files = positionals.length > 0 ? positionals : [join(root, 'infra', 'main.bicep')];
  const names = files.map((f) => basename(f, '.bicep'));
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (values.outdir !== undefined && twice !== undefined) {
    process.stderr.write(`--outdir: two files would both write ${twice}.json\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (values.outdir !== undefined) mkdirSync(values.outdir, { recursive: true });
  for (const { file, template, diagnostics, error } of await buildAndLint(files)) {
    if (error) {
      process.stderr.write(`${error.code}: ${error.message}\n`);
      process.exitCode = 1;
      continue;
    }
    const out = values.outdir === undefined ? undefined : join(resolve(values.outdir), `${basename(file, '.bicep')}.json`);
    if (out) writeFileSync(out, `${JSON.stringify(template, null, 2)}\n`);
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.stdout.write(`bicep ${BICEP_VERSION}: ${file} builds and lints with no errors or warnings${out ? ` (ARM template: ${out})` : ''}\n`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`${error instanceof BicepError ? `${error.code}: ${error.message}` : (error?.stack ?? error)}\n`);
    process.exitCode = 1;
  });
}
