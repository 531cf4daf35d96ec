/**
 * The policy and deny commands as a CI job or an operator runs them: what they print and their
 * exit codes (0 ok, 1 refused / mismatch / strict warning). They run in this process (the code the
 * built command runs); one test checks that the built command prints and exits the same.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, placeDevIssuerKey } from '../helpers/local-host.js';
import { tokexCommand } from '../helpers/tokex-command.js';

let dir: string;
const settings = () => ({ PORT: '7071', TOKEX_LOCAL_DIR: join(dir, '.local') });
/** Runs a command in this process (the code of the built command), in the scratch folder. */
const run = (...args: string[]) => tokexCommand(args, { cwd: dir, env: settings() });
/** The built command itself, as a CI job runs it. */
const runBuilt = (...args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, ...settings() } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokex-cli-'));
  // The dev-token runs below run side by side: each would make the missing key.
  placeDevIssuerKey(join(dir, '.local'));
  writeFileSync(
    join(dir, 'policy.yaml'),
    `rules:
  - name: dev-callers
    when: { issuer: dev, claims: { roles: Jobs.Train } }
    grant:
      - minted: https://workspace.internal
        scopes: [jobs.read, jobs.submit]
        lifetime: 15m
      - secrets: ["*"]
`,
  );
});

describe.concurrent('tokex policy', () => {
  it('explain: exit 0 with the answer when granted, 1 when refused; --output json', async () => {
    const token = (await run('dev-token', '--sub', 'job-1', '--roles', 'Jobs.Train')).stdout.trim();
    const granted = await run('policy', 'explain', 'policy.yaml', '--token', token, '--audience', 'https://workspace.internal', '--scope', 'jobs.read');
    expect(granted.code).toBe(0);
    expect(granted.stdout).toContain('answer: 200, rule dev-callers, minted token for https://workspace.internal, scope "jobs.read", lifetime 900 s');
    const refused = await run(
      'policy',
      'explain',
      'policy.yaml',
      '--token',
      token,
      '--audience',
      'https://workspace.internal',
      '--scope',
      'jobs.admin',
      '--output',
      'json',
    );
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).answer).toEqual({
      status: 400,
      error: 'invalid_scope',
      reason: 'scope_not_allowed',
      detail: 'scope "jobs.admin" not granted for https://workspace.internal (rule dev-callers allows jobs.read jobs.submit)',
    });
    const claims = await run(
      'policy',
      'explain',
      'policy.yaml',
      '--claims',
      '{"iss":"http://localhost:7071/dev","aud":"api://x","sub":"s","exp":4102444800}',
      '--audience',
      'https://workspace.internal',
    );
    expect(claims.code).toBe(1);
    expect(claims.stdout).toContain('FAIL  aud');
    expect(claims.stdout).toContain('answer: 400 invalid_request, reason wrong_audience: aud "api://x" is not one of api://tokex');
  });

  it('test: exit 1 with a diff on a mismatch', async () => {
    writeFileSync(
      join(dir, 'cases.yaml'),
      `cases:
  - name: trainers get jobs.submit
    claims: { iss: "http://localhost:7071/dev", aud: api://tokex, sub: job-1, roles: [Jobs.Train], exp: +1h }
    request: { audience: https://workspace.internal, scope: jobs.submit }
    expect: { outcome: granted, scopes: [jobs.submit] }
  - name: readers get nothing
    claims: { iss: "http://localhost:7071/dev", aud: api://tokex, sub: job-1, roles: [Jobs.Read], exp: +1h }
    request: { audience: https://workspace.internal }
    expect: { outcome: granted }
`,
    );
    const result = await run('policy', 'test', 'policy.yaml', 'cases.yaml');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('PASS  trainers get jobs.submit\nFAIL  readers get nothing\n      outcome: expected "granted", got "denied"');
    expect(result.stdout).toContain('1 passed, 1 failed');
  });

  it('check: warnings keep exit 0, --strict makes them exit 1', async () => {
    const lenient = await run('policy', 'check', 'policy.yaml');
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toContain('policy.yaml:8: rules[0].grant[1].secrets[0]: warning: "*" alone allows every secret in the vault');
    expect((await run('policy', 'check', 'policy.yaml', '--strict')).code).toBe(1);
  });

  it('the built command prints the same and exits with the same code (0, and 1 with --strict)', async () => {
    for (const args of [
      ['policy', 'check', 'policy.yaml'],
      ['policy', 'check', 'policy.yaml', '--strict'],
    ]) {
      const [built, here] = await Promise.all([runBuilt(...args), run(...args)]);
      expect(built).toEqual(here);
    }
  });

  it('the built command writes all of a long answer to a pipe before it exits 1', async () => {
    // Some 300 cases of JSON, over the 64 KiB a pipe holds; the last one fails.
    const claims = '{ iss: "http://localhost:7071/dev", aud: api://tokex, sub: job-1, roles: [Jobs.Train], exp: +1h }';
    const passing = Array.from(
      { length: 300 },
      (_, i) => `  - { name: case ${i}, claims: ${claims}, request: { audience: https://workspace.internal }, expect: { outcome: granted } }`,
    );
    const failing = `  - { name: the last, claims: ${claims}, request: { audience: https://workspace.internal }, expect: { outcome: denied } }`;
    writeFileSync(join(dir, 'many-cases.yaml'), ['cases:', ...passing, failing, ''].join('\n'));
    // Into a pipe whose reader starts late, as `| jq` may: what is not written by exit would be lost.
    const command = `set -o pipefail; "$0" "$1" policy test policy.yaml many-cases.yaml --output json | { sleep 0.3; cat; }`;
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', command, process.execPath, CLI],
        { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, ...settings() } },
        (error, stdout) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stdout.length).toBeGreaterThan(64 * 1024);
    expect(JSON.parse(result.stdout)).toMatchObject({ passed: 300, failed: 1 });
  });

  it('explain --claims @file reads the file from the folder; a file not there is one line and exit 1', async () => {
    writeFileSync(join(dir, 'claims.json'), '{"iss":"http://localhost:7071/dev","aud":"api://tokex","sub":"s","roles":["Jobs.Train"],"exp":4102444800}');
    const granted = await run('policy', 'explain', 'policy.yaml', '--claims', '@claims.json', '--audience', 'https://workspace.internal');
    expect(granted.code).toBe(0);
    expect(granted.stdout).toContain('answer: 200, rule dev-callers');
    const missing = await run('policy', 'explain', 'policy.yaml', '--claims', '@absent.json', '--audience', 'https://workspace.internal');
    expect([missing.code, missing.stdout, missing.stderr]).toEqual([1, '', 'tokex: --claims @absent.json: cannot be read (ENOENT)\n']);
  });
});

describe('tokex dev-token', () => {
  it('names a bad key file as the settings give it (relative to the folder)', async () => {
    mkdirSync(join(dir, 'bad-key'), { recursive: true });
    writeFileSync(join(dir, 'bad-key', 'dev-issuer-key.json'), 'not json');
    const bad = await tokexCommand(['dev-token', '--sub', 'x'], { cwd: dir, env: { PORT: '7071', TOKEX_LOCAL_DIR: 'bad-key' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^tokex: bad-key\/dev-issuer-key\.json: not a private key/);
  });
});

describe('tokex deny (file)', () => {
  it('add, list and remove edit the deny-list document', async () => {
    writeFileSync(join(dir, 'deny.json'), '{}');
    expect((await run('deny', 'add', '--list', 'deny.json', '--caller', 'dev', '--sub', 'job-1')).code).toBe(0);
    expect((await run('deny', 'add', '--list', 'deny.json', '--rule', 'dev-callers')).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'deny.json'), 'utf8'))).toEqual({
      callers: [{ issuer: 'dev', sub: 'job-1' }],
      issuers: [],
      rules: ['dev-callers'],
    });
    expect((await run('deny', 'list', '--list', 'deny.json')).stdout).toBe('deny.json:\n  rule dev-callers\n  caller dev sub job-1\n');
    await run('deny', 'remove', '--list', 'deny.json', '--rule', 'dev-callers');
    expect(JSON.parse(readFileSync(join(dir, 'deny.json'), 'utf8')).rules).toEqual([]);
    // policy explain applies the same list when given it.
    const token = (await run('dev-token', '--sub', 'job-1', '--roles', 'Jobs.Train')).stdout.trim();
    const denied = await run('policy', 'explain', 'policy.yaml', '--token', token, '--audience', 'https://workspace.internal', '--deny-list', 'deny.json');
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('answer: 400 invalid_request, reason caller_denied: caller dev sub "job-1" is on the deny-list');
    const bad = await run('deny', 'add', '--list', 'deny.json', '--caller', 'dev');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('tokex: deny: --caller needs exactly one of --oid or --sub\n');
  });

  it('list of a file not there yet, and remove of an entry not on the list, say so and exit 1', async () => {
    const absent = await run('deny', 'list', '--list', 'absent.json');
    expect([absent.code, absent.stderr]).toEqual([1, 'tokex: absent.json: no deny-list there yet (`tokex deny add` creates it)\n']);
    writeFileSync(join(dir, 'short.json'), '{}');
    const missing = await run('deny', 'remove', '--list', 'short.json', '--rule', 'nobody');
    expect([missing.code, missing.stderr]).toEqual([1, 'tokex: short.json: that entry is not on the deny-list (see `tokex deny list`)\n']);
  });
});
