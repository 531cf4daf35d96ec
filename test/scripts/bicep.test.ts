/**
 * What scripts/bicep.mjs says when the Bicep CLI cannot be had (the infra test then fails with this
 * message; it never skips), and when the CLI misbehaves. A fake `dotnet` on PATH stands in for an
 * unreachable NuGet; shell scripts in a cache folder stand in for the CLI in JSON-RPC mode (the real
 * one is run by test/infra/infra.test.ts).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function script(path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, 'scripts/bicep.mjs'), 'restore'],
      { env: { PATH: path, TOKEX_BICEP_CACHE: mkdtempSync(join(tmpdir(), 'tokex-bicep-cache-')) } },
      (error, stdout, stderr) => done({ code: error ? 1 : 0, stdout, stderr }),
    );
  });
}

describe('scripts/bicep.mjs without the package', () => {
  it("a failed restore names the NuGet package, its version and NuGet's own error", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokex-dotnet-'));
    writeFileSync(
      join(dir, 'dotnet'),
      `#!/bin/sh
if [ "$1" = "--version" ]; then echo 10.0.401; exit 0; fi
echo "$PWD/bicep-cli.csproj : error NU1301: Unable to load the service index for source https://nuget.invalid/v3/index.json."
exit 1
`,
    );
    chmodSync(join(dir, 'dotnet'), 0o755);
    const result = await script(`${dir}${delimiter}${process.env.PATH}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^BICEP_RESTORE_FAILED: cannot restore NuGet package Azure\.Bicep\.CommandLine\.linux-x64 0\.49\.2 with `dotnet restore` \(exit 1\): .*error NU1301: Unable to load the service index/,
    );
  });

  it('without the .NET SDK it says that dotnet is missing', async () => {
    // A PATH holding only node.
    const dir = mkdtempSync(join(tmpdir(), 'tokex-nodotnet-'));
    symlinkSync(process.execPath, join(dir, 'node'));
    const result = await script(dir);
    expect(result).toMatchObject({
      code: 1,
      stderr: 'BICEP_NO_DOTNET: cannot restore NuGet package Azure.Bicep.CommandLine.linux-x64 0.49.2: the dotnet command (.NET SDK) is not installed\n',
    });
  });
});

/** A cache folder whose `bicep` is this shell script; the script answers JSON-RPC on stdout. */
function standIn(script: string): string {
  const cache = mkdtempSync(join(tmpdir(), 'tokex-bicep-standin-'));
  const tools = join(cache, 'packages', 'azure.bicep.commandline.linux-x64', '0.49.2', 'tools');
  mkdirSync(tools, { recursive: true });
  writeFileSync(join(tools, 'bicep'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(tools, 'bicep'), 0o755);
  return cache;
}

/** A JSON-RPC answer to the first request, framed as the CLI frames it. */
const answer = (result: unknown) => {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result });
  return `printf 'Content-Length: ${Buffer.byteLength(body)}\\r\\n\\r\\n%s' '${body}'`;
};

function build(cache: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, 'scripts/bicep.mjs'), ...args],
      { env: { PATH: process.env.PATH, TOKEX_BICEP_CACHE: cache, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe.concurrent('scripts/bicep.mjs with a Bicep CLI that misbehaves: one line naming the file, exit 1', () => {
  const file = join(root, 'infra/main.bicep');

  it('a clean answer: the template written to --outdir (made if missing), exit 0', async ({ expect }) => {
    const outdir = join(mkdtempSync(join(tmpdir(), 'tokex-bicep-out-')), 'new');
    const result = await build(standIn(`${answer({ success: true, diagnostics: [], contents: '{"resources":[]}' })}\nexec cat > /dev/null`), [
      '--outdir',
      outdir,
      file,
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`bicep 0.49.2: ${file} builds and lints with no errors or warnings (ARM template: ${outdir}/main.json)\n`);
    expect(JSON.parse(readFileSync(join(outdir, 'main.json'), 'utf8'))).toEqual({ resources: [] });
  });

  const cases: [string, string, RegExp, Record<string, string>?][] = [
    ['exits', 'echo "out of memory" >&2; exit 3', /: bicep jsonrpc exited \(code 3\): out of memory$/],
    ['never answers', 'exec sleep 60', /: bicep jsonrpc took more than 0\.3 s$/, { TOKEX_BICEP_TIMEOUT_MS: '300' }],
    ['answers what is not JSON', "printf 'Content-Length: 5\\r\\n\\r\\nhello'; exec cat > /dev/null", /: bicep jsonrpc sent a message that is not JSON$/],
    ['answers without a result', `${answer(null)}\nexec cat > /dev/null`, /: bicep 0\.49\.2 gave an answer without a result for .*main\.bicep$/],
  ];
  for (const [name, script, message, env] of cases) {
    it(name, async ({ expect }) => {
      const result = await build(standIn(script), [file], env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(new RegExp(`^BICEP_FAILED: (bicep 0\\.49\\.2 cannot build ${file}|bicep 0\\.49\\.2 gave)`));
      expect(result.stderr.trim()).toMatch(message);
    });
  }
});
