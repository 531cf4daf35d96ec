#!/usr/bin/env node
/**
 * Compiles and lints infra/main.bicep with the real Bicep CLI, failing on any error or warning.
 *
 *   node scripts/bicep.mjs restore                   fetch the CLI into .cache/bicep/ (CI does this first)
 *   node scripts/bicep.mjs [--outdir DIR] [FILE...]  restore if needed, then build each file, which lints it
 *   (TOKEX_BICEP_CACHE=DIR uses another cache folder; TOKEX_BICEP_TIMEOUT_MS limits a run)
 *
 * The CLI comes from NuGet (package Azure.Bicep.CommandLine.<rid>) through `dotnet restore` of a
 * throwaway project with a PackageDownload item, so no host name is written here: the machine's NuGet
 * configuration says where the registry is. The version is pinned so diagnostics (notably
 * use-recent-api-versions, see infra/bicepconfig.json) do not change under us.
 * Linter rules are raised to error level in infra/bicepconfig.json; compiler warnings (BCPxxx) cannot be
 * raised there, so this script treats every "Warning" diagnostic as a failure as well.
 */
import { execFile, spawn } from 'node:child_process';
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
 * The Bicep CLI in JSON-RPC mode (`bicep jsonrpc --stdio`, as editors and the Bicep SDKs drive it):
 * one process compiles any number of files, where `bicep build` would start .NET (a second of CPU)
 * for each. Messages are framed with a Content-Length header, as in LSP. Any failure of the process
 * (it cannot start, exits, or takes longer than `timeoutMs` in all) rejects every call still waiting.
 * @param {string} bicep @param {number} timeoutMs
 */
function startRpc(bicep, timeoutMs) {
  const child = spawn(bicep, ['jsonrpc', '--stdio'], { cwd: root, env: DOTNET_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  /** @type {Map<number, { resolve: (result: any) => void, reject: (error: Error) => void }>} */
  const waiting = new Map();
  let nextId = 0;
  let received = Buffer.alloc(0);
  let stderr = '';
  let ended;
  const fail = (/** @type {string} */ why) => {
    ended ??= new BicepError('BICEP_FAILED', `bicep jsonrpc ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    for (const { reject } of waiting.values()) reject(ended);
    waiting.clear();
  };
  const timer = setTimeout(() => {
    fail(`took more than ${timeoutMs / 1000} s`);
    child.kill();
  }, timeoutMs);
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.on('error', (error) => fail(`could not be started (${error.message})`));
  // 'close', not 'exit': what it wrote before exiting is read first.
  child.on('close', (code, signal) => fail(`exited (${signal ?? `code ${code}`})`));
  child.stdin.on('error', () => {}); // a process that died: its exit says so
  child.stdout.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    for (;;) {
      const headerEnd = received.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const length = Number(/^Content-Length: *(\d+)\s*$/im.exec(received.subarray(0, headerEnd).toString('ascii'))?.[1]);
      if (!Number.isSafeInteger(length)) return fail('sent a message without a Content-Length header');
      if (received.length < headerEnd + 4 + length) return;
      let message;
      try {
        message = JSON.parse(received.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8'));
      } catch {
        return fail('sent a message that is not JSON');
      }
      received = received.subarray(headerEnd + 4 + length);
      // An error about no request in particular (id null) is about all of them.
      if (message.error && message.id === null) return fail(`answered with an error: ${message.error.message}`);
      const call = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) call?.reject(new BicepError('BICEP_FAILED', String(message.error.message)));
      else call?.resolve(message.result);
    }
  });
  return {
    /** @param {string} method @param {Record<string, unknown>} params @returns {Promise<any>} */
    call(method, params) {
      if (ended) return Promise.reject(ended);
      return new Promise((resolve, reject) => {
        const id = ++nextId;
        waiting.set(id, { resolve, reject });
        const body = JSON.stringify({ jsonrpc: '2.0', id, method, params });
        child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
    },
    close() {
      clearTimeout(timer);
      ended ??= new BicepError('BICEP_FAILED', 'bicep jsonrpc closed');
      child.removeAllListeners('close');
      child.kill();
      // Whatever it started and left holding the pipes must not keep this process alive.
      for (const stream of [child.stdin, child.stdout, child.stderr]) stream.destroy();
      child.unref();
    },
  };
}

/**
 * Builds each file, which lints it. `bicep/compile` makes the compilation `bicep build` and
 * `bicep lint` make, returns all its diagnostics (every file involved, the linter's among them) and
 * the template from the same emitter (Bicep's CliJsonRpcServer.cs). A file fails on any error or
 * warning, or when no template comes out; the others are built all the same.
 * @param {string[]} files @param {{ timeoutMs?: number }} [options] @returns {Promise<BuildResult[]>}
 */
export async function buildAndLint(files, { timeoutMs = TIMEOUT_MS } = {}) {
  const rpc = startRpc(await ensureBicep(), timeoutMs);
  try {
    const results = [];
    for (const file of files.map((f) => resolve(f))) {
      let response;
      try {
        response = await rpc.call('bicep/compile', { path: file });
      } catch (error) {
        if (!(error instanceof BicepError)) throw error;
        results.push({ file, diagnostics: [], error: new BicepError(error.code, `bicep ${BICEP_VERSION} cannot build ${file}: ${error.message}`) });
        continue;
      }
      const { success, diagnostics: found, contents } = response ?? {};
      if (typeof success !== 'boolean' || !Array.isArray(found)) {
        results.push({ file, diagnostics: [], error: new BicepError('BICEP_FAILED', `bicep ${BICEP_VERSION} gave an answer without a result for ${file}`) });
        continue;
      }
      /** @type {Diagnostic[]} */
      const diagnostics = found.map((/** @type {any} */ d) => ({
        file: d.source,
        line: d.range.start.line + 1,
        column: d.range.start.char + 1,
        level: d.level,
        code: d.code,
        message: d.message,
      }));
      const failing = diagnostics.filter((d) => d.level === 'Error' || d.level === 'Warning');
      const error =
        failing.length > 0
          ? new BicepError(
              'BICEP_DIAGNOSTICS',
              `bicep ${BICEP_VERSION} reports ${failing.length} problem(s) in ${file}:\n${failing.map(formatDiagnostic).join('\n')}`,
            )
          : !success || typeof contents !== 'string'
            ? new BicepError('BICEP_FAILED', `bicep ${BICEP_VERSION} made no template of ${file}`)
            : undefined;
      results.push({ file, diagnostics, ...(error ? { error } : { template: JSON.parse(contents) }) });
    }
    return results;
  } finally {
    rpc.close();
  }
}

/** As the Bicep CLI prints a diagnostic: `path(line,col) : Level code: message`. @param {Diagnostic} d */
export const formatDiagnostic = (d) => `${d.file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}`;

const USAGE = `Usage:
  node scripts/bicep.mjs [--outdir DIR] [FILE...]   build and lint (default: infra/main.bicep); exit 1 on any error or warning
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
