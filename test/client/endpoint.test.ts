/**
 * Issue 11 item 16: the callers' side never sends a subject token in clear text to another machine.
 */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { exchangeToken, TokexCredential, TokexExchangeError } from '../../client/index.js';
import { tokexCommand } from '../helpers/tokex-command.js';

const scope = 'api://tokex/.default';

describe('TokexCredential and exchangeToken refuse http:// to a host that is not loopback', () => {
  it.each(['http://tokex.example', 'http://10.0.0.5:7071', 'http://[2001:db8::1]/'])('%s: a TypeError that says why', (endpoint) => {
    expect(() => new TokexCredential({ endpoint, scope })).toThrow(/clear-text http .*unencrypted; use https \(http is allowed only for loopback\)/);
  });

  it.each(['https://tokex.example', 'http://127.0.0.1:7071', 'http://localhost:7071', 'http://[::1]:7071'])('%s is accepted', (endpoint) => {
    expect(() => new TokexCredential({ endpoint, scope })).not.toThrow();
  });

  it('exchangeToken refuses before any request is made', async () => {
    const err = await exchangeToken({ endpoint: 'http://tokex.example', subjectToken: 'x.y.z', audience: 'https://w.internal' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(TokexExchangeError);
    expect((err as Error).message).toMatch(/^tokex: "endpoint": refusing clear-text http to tokex\.example/);
  });

  it('tokex get-token exits 1 with the reason, and prints no token', async () => {
    const run = await tokexCommand(['get-token', '--endpoint', 'http://tokex.example', '--audience', 'https://w.internal'], {
      cwd: tmpdir(),
      env: { TOKEX_SUBJECT_TOKEN: 'caller-token' },
    });
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toMatch(/^tokex: --endpoint: refusing clear-text http to tokex\.example: the subject token would travel unencrypted/);
    expect(run.stderr).not.toContain('caller-token');
  });
});
