/**
 * What scripts/bicep.mjs says when the Bicep CLI cannot be had: the infra test then fails with this
 * message (it never skips). A fake `dotnet` on PATH stands in for an unreachable NuGet.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
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
