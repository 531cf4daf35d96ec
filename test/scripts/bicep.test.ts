/**
 * What scripts/bicep.mjs says when the Bicep CLI cannot be had (the infra test then fails with this
 * message; it never skips), and when the CLI misbehaves. A fake `dotnet` on PATH stands in for an
 * unreachable NuGet; shell scripts in a cache folder stand in for `bicep build` and `bicep lint` (the
 * real CLI is run by test/infra/infra.test.ts).
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

/** A cache folder whose `bicep` is this shell script (mode 0o644: not executable). */
function standIn(script: string, mode = 0o755): string {
  const cache = mkdtempSync(join(tmpdir(), 'tokex-bicep-standin-'));
  const tools = join(cache, 'packages', 'azure.bicep.commandline.linux-x64', '0.49.2', 'tools');
  mkdirSync(tools, { recursive: true });
  writeFileSync(join(tools, 'bicep'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(tools, 'bicep'), mode);
  return cache;
}

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

  it('a clean build and lint: the template written to --outdir (made if missing), exit 0', async ({ expect }) => {
    const outdir = join(mkdtempSync(join(tmpdir(), 'tokex-bicep-out-')), 'new');
    const result = await build(standIn(`[ "$1" = build ] && printf '{"resources":[]}'; exit 0`), ['--outdir', outdir, file]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`bicep 0.49.2: ${file} builds and lints with no errors or warnings (ARM template: ${outdir}/main.json)\n`);
    expect(JSON.parse(readFileSync(join(outdir, 'main.json'), 'utf8'))).toEqual({ resources: [] });
  });

  const cases: [string, string, RegExp, { mode?: number; env?: Record<string, string> }?][] = [
    ['exits with no diagnostic', 'echo "out of memory" >&2; exit 3', /: bicep lint exited 3: out of memory$/],
    ['never ends', 'exec sleep 60', /: bicep lint took more than 0\.3 s$/, { env: { TOKEX_BICEP_TIMEOUT_MS: '300' } }],
    ['cannot be started', 'exit 0', /: bicep lint could not be started \(EACCES\)$/, { mode: 0o644 }],
    ['builds no template', `[ "$1" = build ] && echo 'not a template'; exit 0`, /: bicep build printed no template$/],
  ];
  for (const [name, script, message, options] of cases) {
    it(name, async ({ expect }) => {
      const result = await build(standIn(script, options?.mode), [file], options?.env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(new RegExp(`^BICEP_FAILED: bicep 0\\.49\\.2 cannot build ${file}: `));
      expect(result.stderr.trim()).toMatch(message);
    });
  }
});
