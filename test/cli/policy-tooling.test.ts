/**
 * `tokex policy explain | test | check | schema`, in-process: explain is the server's own decision
 * (parser, validator, decision function), so its steps carry the values the audit detail names.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { explain, formatExplanation } from '../../cli/explain.js';
import { checkPolicy, jwksKeys, testPolicy } from '../../cli/policy-commands.js';
import { policyJsonSchema } from '../../shared/policy/json-schema.js';
import { type PolicyLoadOptions, parsePolicy } from '../../shared/policy/load.js';
import { policyWarnings } from '../../shared/policy/warnings.js';
import { FakeIssuer } from '../fakes/oidc-issuer.js';

const root = resolve(import.meta.dirname, '../..');
const options: PolicyLoadOptions = { ownIssuer: 'https://tokex.example', mode: 'azure' };
const PARTNER_TENANT = '11111111-2222-3333-4444-555555555555';
let issuer: FakeIssuer;
let dir: string;
/** The CLI's settings for these runs: none from this process's environment, files from the scratch folder. */
const here = () => ({ env: {}, cwd: dir });

const policyText = (iss: string) => `issuers:
  - name: corp
    issuer: ${iss}
    audience: api://tokex
  - name: partner
    issuer: https://login.microsoftonline.com/{tenantid}/v2.0
    audience: api://tokex
    tenants: [${PARTNER_TENANT}]
rules:
  - name: dev-callers
    when: { issuer: corp, claims: { roles: Jobs.Train } }
    grant:
      - minted: https://workspace.internal
        scopes: [jobs.read, jobs.submit]
        lifetime: 15m
`;

beforeAll(async () => {
  issuer = await FakeIssuer.start();
  dir = mkdtempSync(join(tmpdir(), 'tokex-tooling-'));
  writeFileSync(join(dir, 'policy.yaml'), policyText(issuer.issuer));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks()));
});
afterAll(() => issuer?.close());

const policy = () => parsePolicy(policyText(issuer.issuer), 'policy.yaml', options);
const trainer = (claims: Record<string, unknown> = {}, expiresIn?: number) =>
  issuer.token({ sub: 'job-1', aud: 'api://tokex', roles: ['Jobs.Train'], ...claims }, expiresIn === undefined ? {} : { expiresIn });
const WORKSPACE = { audience: 'https://workspace.internal' };

describe('policy explain', () => {
  it('grants: every step PASS, the signature SKIP without keys, then the exact answer', async () => {
    const result = await explain({ policy: policy(), subject: { token: await trainer() }, request: { ...WORKSPACE, scope: 'jobs.read' } });
    expect(result.answer).toEqual({
      status: 200,
      reason: 'ok',
      rule: 'dev-callers',
      grant: { kind: 'minted', target: 'https://workspace.internal' },
      scopes: ['jobs.read'],
      lifetimeSeconds: 900,
    });
    expect(result.steps.map((s) => `${s.outcome} ${s.check}`)).toEqual([
      'PASS request',
      'PASS format',
      'PASS header',
      'PASS payload',
      'PASS issuer',
      'PASS alg',
      'PASS typ',
      'SKIP signature',
      'PASS time',
      'PASS aud',
      'PASS subject',
      'PASS deny-list',
      'PASS rule dev-callers',
      'PASS rules',
      'PASS target',
      'PASS scope',
      'PASS rule not denied',
      'PASS lifetime',
    ]);
    expect(formatExplanation(result)).toMatch(
      /answer: 200, rule dev-callers, minted token for https:\/\/workspace.internal, scope "jobs.read", lifetime 900 s\n\(signature not checked/,
    );
  });

  it('an expired token: FAIL at time, with the date, how long ago and the tolerance', async () => {
    const result = await explain({ policy: policy(), subject: { token: await trainer({}, -312) }, request: WORKSPACE });
    expect(result.answer).toMatchObject({ status: 400, error: 'invalid_request', reason: 'expired' });
    expect(result.answer.detail).toMatch(/^exp \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ is 31[2-4] s in the past \(tolerance 60 s\)$/);
    expect(result.steps.at(-1)).toMatchObject({ check: 'time', outcome: 'FAIL' });
  });

  it('a wrong audience, an untrusted issuer, a tenant not listed: both sides named', async () => {
    const wrongAud = await explain({ policy: policy(), subject: { token: await trainer({ aud: 'api://x' }) }, request: WORKSPACE });
    expect(wrongAud.answer).toMatchObject({ reason: 'wrong_audience', detail: 'aud "api://x" is not one of api://tokex' });
    const claims = { iss: 'http://127.0.0.1:7072', aud: 'api://tokex', sub: 's', exp: Math.floor(Date.now() / 1000) + 60 };
    const untrusted = await explain({ policy: policy(), subject: { claims }, request: WORKSPACE });
    expect(untrusted.answer).toMatchObject({
      status: 400,
      reason: 'unknown_issuer',
      detail: 'issuer "http://127.0.0.1:7072" is not trusted (trusted: corp, partner)',
    });
    const otherTenant = '99999999-2222-3333-4444-555555555555';
    const partner = await explain({
      policy: policy(),
      subject: {
        claims: {
          iss: `https://login.microsoftonline.com/${otherTenant}/v2.0`,
          tid: otherTenant,
          oid: otherTenant,
          aud: 'api://tokex',
          roles: ['x'],
          exp: Math.floor(Date.now() / 1000) + 60,
        },
      },
      request: WORKSPACE,
    });
    expect(partner.answer).toMatchObject({ reason: 'tenant_not_allowed', detail: `tenant "${otherTenant}" not in tenants of partner (${PARTNER_TENANT})` });
  });

  it('a refused scope names the scope, the target, the rule and what it allows', async () => {
    const result = await explain({ policy: policy(), subject: { token: await trainer() }, request: { ...WORKSPACE, scope: 'jobs.read jobs.admin' } });
    expect(result.answer).toMatchObject({
      status: 400,
      error: 'invalid_scope',
      reason: 'scope_not_allowed',
      detail: 'scope "jobs.admin" not granted for https://workspace.internal (rule dev-callers allows jobs.read jobs.submit)',
    });
  });

  it('a caller no rule holds for: each rule with why', async () => {
    const result = await explain({ policy: policy(), subject: { token: await trainer({ roles: ['Jobs.Read'] }) }, request: WORKSPACE });
    expect(result.answer).toMatchObject({
      reason: 'no_rule',
      detail: 'caller matches no rule (dev-callers: claim "roles" is ["Jobs.Read"], rule wants Jobs.Train)',
    });
  });

  it('values from the token are JSON-escaped and cut to 200 characters', async () => {
    const result = await explain({ policy: policy(), subject: { token: await trainer({ aud: `x"\n${'y'.repeat(500)}` }) }, request: WORKSPACE });
    const detail = result.answer.detail!;
    expect(detail).toContain('aud "x\\"\\nyyy');
    expect(detail).not.toContain('\n');
    expect(detail.length).toBeLessThan(260);
  });

  it('--jwks adds the signature: a token signed by another key is refused as the server would', async () => {
    const other = await FakeIssuer.start();
    try {
      const forged = await other.token({ iss: issuer.issuer, sub: 'job-1', aud: 'api://tokex', roles: ['Jobs.Train'] });
      const keysFor = jwksKeys(join(dir, 'jwks.json'), dir);
      const withKeys = await explain({ policy: policy(), subject: { token: forged }, request: WORKSPACE, keysFor });
      expect(withKeys.answer).toMatchObject({ status: 400, reason: 'invalid_signature' });
      expect(withKeys.steps.find((s) => s.check === 'signature')).toMatchObject({ outcome: 'FAIL' });
      const good = await explain({ policy: policy(), subject: { token: await trainer() }, request: WORKSPACE, keysFor });
      expect(good).toMatchObject({ signatureChecked: true, answer: { status: 200 } });
    } finally {
      await other.close();
    }
  });
});

describe('policy test', () => {
  const cases = (expectRule: string) => `now: 2026-11-26T12:00:00Z
cases:
  - name: a trainer gets jobs.read for 15 minutes
    claims: { iss: "${issuer.issuer}", aud: api://tokex, sub: job-1, roles: [Jobs.Train], exp: +1h }
    request: { audience: https://workspace.internal, scope: jobs.read }
    expect: { outcome: granted, rule: ${expectRule}, scopes: [jobs.read], lifetime: 15m }
  - name: an expired token is refused
    claims: { iss: "${issuer.issuer}", aud: api://tokex, sub: job-1, roles: [Jobs.Train], exp: -5m }
    request: { audience: https://workspace.internal }
    expect: { outcome: denied, status: 400, reason: expired }
`;

  it('passes when every case gets what it expects', async () => {
    writeFileSync(join(dir, 'cases.yaml'), cases('dev-callers'));
    const result = await testPolicy(join(dir, 'policy.yaml'), join(dir, 'cases.yaml'), { mode: 'azure', output: 'text' }, here());
    expect(result).toEqual({ ok: true, text: 'PASS  a trainer gets jobs.read for 15 minutes\nPASS  an expired token is refused\n2 passed, 0 failed' });
  });

  it('fails with a diff on a mismatch, also as JSON', async () => {
    writeFileSync(join(dir, 'cases.yaml'), cases('other-rule'));
    const text = await testPolicy(join(dir, 'policy.yaml'), join(dir, 'cases.yaml'), { mode: 'azure', output: 'text' }, here());
    expect(text.ok).toBe(false);
    expect(text.text).toContain('FAIL  a trainer gets jobs.read for 15 minutes\n      rule: expected "other-rule", got "dev-callers"');
    const json = JSON.parse((await testPolicy(join(dir, 'policy.yaml'), join(dir, 'cases.yaml'), { mode: 'azure', output: 'json' }, here())).text);
    expect(json).toMatchObject({ passed: 1, failed: 1, cases: [{ ok: false, diff: ['rule: expected "other-rule", got "dev-callers"'] }, { ok: true }] });
  });
});

describe('policy check lints', () => {
  const risky = `issuers: [{ name: corp, issuer: "https://idp.example", audience: api://tokex }]
identities:
  ml: { type: managed-identity }
  spare: { type: managed-identity }
rules:
  - name: everyone
    when: { issuer: corp }
    grant:
      - entra: https://ml.azure.com/.default
        identity: ml
      - minted: https://w.internal
        scopes: [a]
        lifetime: 2h
      - secrets: ["*"]
`;

  it('warns with line and path; --strict turns warnings into a failure', () => {
    const file = join(dir, 'risky.yaml');
    writeFileSync(file, risky);
    const warnings = policyWarnings(parsePolicy(risky, file, options), { reservedSecrets: new Set() }).map((w) => `${w.line}: ${w.path}: ${w.message}`);
    expect(warnings).toEqual([
      '4: identities.spare: identity "spare" is not used by any grant',
      '7: rules[0].when: rule "everyone" has no condition but its issuer: it grants every caller of corp',
      '9: rules[0].grant[0].entra: "https://ml.azure.com/.default" ends in /.default: give the resource; the scope issued is <resource>/.default (here https://ml.azure.com/.default/.default)',
      '13: rules[0].grant[1].lifetime: lifetime 7200 s is over 1 h: a leaked token stays useful that long',
      '14: rules[0].grant[2].secrets[0]: "*" alone allows every secret in the vault',
    ]);
    const lenient = checkPolicy(file, 'azure', false, here());
    expect(lenient.ok).toBe(true);
    expect(lenient.text).toBe(`${file}: ok (1 issuer, 2 identities, 1 rule, 3 grants; checked for the Azure Functions host)`);
    expect(lenient.warnings).toContain(`${file}:4: identities.spare: warning: identity "spare" is not used by any grant`);
    const strict = checkPolicy(file, 'azure', true, here());
    expect(strict.ok).toBe(false);
    expect(strict.text).toBe(`${file}: 5 warnings, errors with --strict (1 issuer, 2 identities, 1 rule, 3 grants; checked for the Azure Functions host)`);
    expect(strict.warnings).toContain(`${file}:14: rules[0].grant[2].secrets[0]: error: "*" alone allows every secret in the vault`);
  });

  it('says "did you mean" for a misspelt key', () => {
    const typo = risky.replace('        scopes: [a]', '        scope: [a]');
    expect(() => parsePolicy(typo, 'p.yaml', options)).toThrow('p.yaml:12: rules[0].grant[1].scope: unknown key (did you mean "scopes"?)');
  });
});

describe('policy.schema.json', () => {
  const schema = JSON.parse(readFileSync(resolve(root, 'policy.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

  it('is what the code generates from its zod schema (`npm run schema` rewrites it)', () => {
    expect(schema).toEqual(policyJsonSchema());
  });

  it('every example policy names it and validates; a typo does not', () => {
    for (const file of ['policy.example.yaml', 'policy.dev.yaml']) {
      const text = readFileSync(resolve(root, file), 'utf8');
      expect(text.split('\n')[0], file).toBe('# yaml-language-server: $schema=policy.schema.json');
      expect(validate(parse(text)), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate(parse(policyText('https://idp.example')))).toBe(true);
    expect(validate(parse(policyText('https://idp.example').replace('audience:', 'audiance:')))).toBe(false);
    expect(validate(parse(policyText('https://idp.example').replace('scopes:', 'scope:')))).toBe(false);
  });
});
