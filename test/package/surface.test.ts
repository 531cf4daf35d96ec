/**
 * What a user of the npm package gets: `npm pack` output holds the built code and none of the
 * tests or sources; its `bin` runs; importing the package root gives the client API and does not
 * start the Functions app; `tokex/client` loads with none of the server's dependencies installed.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
let unpacked: string;
let files: string[];

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'tokex-pack-'));
  const [report] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  ) as [{ filename: string; files: { path: string }[] }];
  files = report.files.map((f) => f.path);
  execFileSync('tar', ['-xzf', join(dir, report.filename), '-C', dir]);
  unpacked = join(dir, 'package');
}, 60_000);

const node = (args: string[], cwd: string) => execFileSync(process.execPath, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('npm pack', () => {
  it('ships the built code, package.json and README, and no tests, sources or benchmarks', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/bin/tokex.js',
        'dist/client/index.js',
        'dist/client/index.d.ts',
        'dist/functions/index.js',
        'host.json',
      ]),
    );
    expect(files.filter((f) => /^(test|bench|infra|dist\/test|dist\/bench)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  it('its bin runs: tokex --version prints the package version', () => {
    // The package's dependencies as `npm install` would provide them, without touching the registry.
    symlinkSync(join(root, 'node_modules'), join(unpacked, 'node_modules'), 'dir');
    expect(node([join(unpacked, 'dist/bin/tokex.js'), '--version'], unpacked).trim()).toBe(version);
  });

  it('importing the package root gives the client API and does not start the Functions app', () => {
    const app = mkdtempSync(join(tmpdir(), 'tokex-user-'));
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(unpacked, join(app, 'node_modules', 'tokex'), 'dir');
    writeFileSync(
      join(app, 'probe.mjs'),
      `const root = await import('tokex'); const client = await import('tokex/client');
console.log(JSON.stringify({ root: Object.keys(root).sort(), same: root.TokexCredential === client.TokexCredential }));`,
    );
    const out = execFileSync(process.execPath, ['probe.mjs'], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(JSON.parse(out)).toEqual({ root: expect.arrayContaining(['TokexCredential', 'exchangeToken', 'TokexExchangeError']), same: true });
    expect(JSON.parse(out).root).not.toContain('token');
  });

  it('tokex/client loads and builds a credential with none of the server dependencies installed', () => {
    const bare = mkdtempSync(join(tmpdir(), 'tokex-bare-'));
    cpSync(join(unpacked, 'dist'), join(bare, 'dist'), { recursive: true });
    writeFileSync(join(bare, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(bare, 'probe.mjs'),
      `import { TokexCredential, targetOf } from './dist/client/index.js';
new TokexCredential({ endpoint: 'https://tokex.example', scope: 'api://tokex/.default', credential: { getToken: async () => null } });
console.log(JSON.stringify(targetOf('https://vault.azure.net/.default')));`,
    );
    expect(JSON.parse(node(['probe.mjs'], bare))).toEqual({ resource: 'https://vault.azure.net' });
  });
});
