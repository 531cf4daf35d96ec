import { execFile, execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI, LocalTokex } from '../helpers/local-host.js';
import { tokexCommand } from '../helpers/tokex-command.js';

const execFileAsync = promisify(execFile);

let tokex: LocalTokex;
beforeAll(async () => {
  // The shipped policy.dev.yaml, exactly as `npm start` uses it; the server makes its dev issuer key.
  tokex = await LocalTokex.start('', { TOKEX_POLICY: resolve(import.meta.dirname, '../../policy.dev.yaml') }, { generateDevKey: true });
});
afterAll(() => tokex?.stop());

it('the README quick start: dev-token, then curl the exchange, then verify against the JWKS', async () => {
  const env = { ...process.env, ...tokex.env };
  const subject = execFileSync(process.execPath, [CLI, 'dev-token', '--sub', 'alice'], { env, encoding: 'utf8' }).trim();
  expect(subject.split('.')).toHaveLength(3);
  // The README's curl, verbatim in its parameters.
  const out = execFileSync(
    'curl',
    [
      '-s',
      `${tokex.url}/token`,
      '-d',
      'grant_type=urn:ietf:params:oauth:grant-type:token-exchange',
      '-d',
      'subject_token_type=urn:ietf:params:oauth:token-type:jwt',
      '--data-urlencode',
      `subject_token=${subject}`,
      '-d',
      'audience=https://workspace.internal',
      '-d',
      'scope=jobs.read',
    ],
    { encoding: 'utf8' },
  );
  const body = JSON.parse(out) as { access_token: string; scope: string; expires_in: number };
  expect(body.scope).toBe('jobs.read');
  expect(body.expires_in).toBe(900);
  const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(`${tokex.url}/.well-known/jwks.json`)), {
    audience: 'https://workspace.internal',
    typ: 'at+jwt',
  });
  expect(payload.sub).toBe('dev:alice');
});

it('dev-token --roles and --claim shape the caller token; the dev issuer JWKS is served at /dev/jwks.json', async () => {
  const env = { ...process.env, ...tokex.env };
  const token = execFileSync(process.execPath, [CLI, 'dev-token', '--sub', 'job', '--roles', 'A,B', '--claim', 'tid=t-1', '--lifetime', '5m'], {
    env,
    encoding: 'utf8',
  }).trim();
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${tokex.url}/dev/jwks.json`)), {
    issuer: `http://localhost:${tokex.env.PORT}/dev`,
    audience: 'api://tokex',
  });
  expect(payload).toMatchObject({ sub: 'job', roles: ['A', 'B'], tid: 't-1' });
  expect(payload.exp! - payload.iat!).toBe(300);
});

it('every command has --help', async () => {
  const commands = [
    [],
    ['serve'],
    ['dev-token'],
    ['get-token'],
    ['policy'],
    ['policy', 'check'],
    ['policy', 'explain'],
    ['policy', 'test'],
    ['policy', 'schema'],
    ['deny'],
    ['deny', 'add'],
    ['deny', 'remove'],
    ['deny', 'list'],
  ];
  // In this process (the code the built command runs); the built command for `tokex --help` itself.
  const helps = await Promise.all(commands.map((args) => tokexCommand([...args, '--help'], { cwd: tokex.dir })));
  for (const [i, run] of helps.entries()) {
    expect(run.code, commands[i]!.join(' ')).toBe(0);
    expect(run.stdout, commands[i]!.join(' ')).toMatch(/^Usage: tokex/);
  }
  const { stdout } = await execFileAsync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
  expect(stdout).toBe(helps[0]!.stdout);
});
