/** `tokex policy explain` names the caller's kind and says when a rule's `when.kind` is why it does not hold. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokexCommand } from '../helpers/tokex-command.js';

const dir = mkdtempSync(join(tmpdir(), 'tokex-explain-'));
const policy = join(dir, 'policy.yaml');
writeFileSync(
  policy,
  `issuers: [{ name: idp, issuer: "https://idp.example", audience: api://tokex }]
identities: { job-identity: { type: managed-identity } }
rules:
  - name: jobs
    when: { issuer: idp, kind: managed-identity, claims: { roles: Jobs.Train } }
    grant: [{ entra: "https://ml.azure.com", identity: job-identity }]
`,
);

/** An unsigned token: explain reads claims, it does not check signatures. */
const token = (claims: Record<string, unknown>) =>
  [
    { alg: 'RS256', typ: 'JWT' },
    { iss: 'https://idp.example', aud: 'api://tokex', exp: 4_000_000_000, ...claims },
  ]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
    .concat('c2lnbmF0dXJl')
    .join('.');

async function explain(claims: Record<string, unknown>): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await tokexCommand(['policy', 'explain', policy, '--token', token(claims), '--target', 'https://ml.azure.com'], {
    cwd: dir,
  });
  return { code, out: stdout + stderr };
}

describe('policy explain and caller kinds', () => {
  it('a managed identity: kind shown, the rule holds', async () => {
    const { code, out } = await explain({
      sub: 'mi',
      roles: ['Jobs.Train'],
      xms_mirid: '/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x',
    });
    expect(code).toBe(0);
    expect(out).toMatch(/PASS {2}subject +sub "mi", kind managed-identity;/);
    expect(out).toContain('SKIP  signature');
    expect(out).toContain('PASS  rule jobs');
    expect(out).toContain('answer: 200, rule jobs, Entra token as identity job-identity');
  });

  it('a user and an app with the same role: the kind is why the rule does not hold', async () => {
    const user = await explain({ sub: 'u', roles: ['Jobs.Train'], scp: 'access_as_user' });
    expect(user.code).not.toBe(0);
    expect(user.out).toMatch(/sub "u", kind user;/);
    expect(user.out).toContain('FAIL  rule jobs');
    expect(user.out).toContain('→ caller kind is "user", rule wants "managed-identity"');
    const app = await explain({ sub: 'a', roles: ['Jobs.Train'], idtyp: 'app' });
    expect(app.out).toContain('→ caller kind is "app", rule wants "managed-identity"');
  });
});
