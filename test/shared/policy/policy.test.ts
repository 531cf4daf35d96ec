import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyError, type PolicyLoadOptions, parsePolicy } from '../../../shared/policy/load.js';
import { holdingRules, rulesFor, scopesFor, secretGrantFor, tokenGrantFor, whyRuleFails } from '../../../shared/policy/match.js';
import type { Policy } from '../../../shared/policy/policy.js';
import { policyWarnings } from '../../../shared/policy/warnings.js';

const options: PolicyLoadOptions = { ownIssuer: 'https://tokex.example', mode: 'azure' };
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OID = '3f1c2b7e-0000-0000-0000-000000000000';

const base = `issuers:
  - name: corp
    issuer: https://login.microsoftonline.com/${TENANT}/v2.0
    audience: api://tokex
identities:
  ml-reader: { type: managed-identity }
rules:
  - name: training-jobs
    when:
      issuer: corp
      claims:
        oid: ${OID}
        roles: Jobs.Train
        xms_tag: [a, b*]
    grant:
      - entra: https://ml.azure.com
        identity: ml-reader
      - minted: https://workspace.internal
        scopes: [jobs.submit, data.read]
        lifetime: 15m
      - secrets: [storage-*]
  - name: everyone-in-corp
    when: { issuer: corp, claims: { tid: ${TENANT} } }
    grant:
      - minted: https://workspace.internal
        scopes: [data.read]
      - minted: https://reports.internal
        scopes: [reports.read]
`;

function load(text: string, opts: PolicyLoadOptions = options): Policy {
  return parsePolicy(text, 'policy.yaml', opts);
}

function problems(text: string, opts: PolicyLoadOptions = options): string[] {
  try {
    load(text, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message.split('\n');
  }
  throw new Error('policy loaded but should not have');
}

describe('policy loading', () => {
  it('loads the DESIGN.md example with defaults applied', () => {
    const policy = load(base);
    expect(policy.issuers[0]).toMatchObject({ name: 'corp', kind: 'entra', algorithms: ['RS256'], types: ['JWT'], audiences: ['api://tokex'] });
    expect(policy.rules.map((r) => r.name)).toEqual(['training-jobs', 'everyone-in-corp']);
    expect(policy.rules[0]!.grants[1]).toMatchObject({ kind: 'minted', lifetimeSeconds: 900 });
    expect(policy.rules[1]!.grants[0]).toMatchObject({ kind: 'minted', lifetimeSeconds: 600 });
  });

  it('reads JSON as well as YAML', () => {
    const json = JSON.stringify(
      {
        issuers: [{ name: 'idp', issuer: 'https://idp.example', audience: ['a', 'b'] }],
        rules: [{ name: 'r', when: { issuer: 'idp' }, grant: [{ minted: 'https://x.example', scopes: ['s'] }] }],
      },
      null,
      2,
    );
    const policy = parsePolicy(json, 'policy.json', options);
    expect(policy.issuers[0]).toMatchObject({ kind: 'oidc', audiences: ['a', 'b'] });
  });

  it('names file, line and path of an unknown key', () => {
    expect(problems(base.replace('    audience: api://tokex', '    audience: api://tokex\n    audiance: typo'))).toEqual([
      'policy.yaml:5: issuers[0].audiance: unknown key (did you mean "audience"?)',
    ]);
  });

  it('names an unknown identity, an unknown issuer and a duplicate rule name with their lines', () => {
    const text = base
      .replace('identity: ml-reader', 'identity: ml-writer')
      .replace('{ issuer: corp, claims', '{ issuer: crop, claims')
      .replace('name: everyone-in-corp', 'name: training-jobs');
    expect(problems(text)).toEqual([
      'policy.yaml:17: rules[0].grant[0].identity: unknown identity "ml-writer" (not in identities:)',
      'policy.yaml:22: rules[1].name: duplicate rule name "training-jobs"',
      'policy.yaml:23: rules[1].when.issuer: unknown issuer "crop" (not in issuers:)',
    ]);
  });

  it('refuses a rule without when, and one with an empty when', () => {
    expect(problems(base.replace(`    when: { issuer: corp, claims: { tid: ${TENANT} } }\n`, ''))).toEqual(['policy.yaml:22: rules[1].when: is required']);
    expect(problems(base.replace(`{ issuer: corp, claims: { tid: ${TENANT} } }`, '{}'))).toEqual(['policy.yaml:23: rules[1].when.issuer: is required']);
  });

  it('refuses a rule with no grants and a grant of no known kind', () => {
    expect(
      problems(
        base.replace(
          /grant:\n {6}- minted: https:\/\/workspace.internal\n {8}scopes: \[data.read\]\n {6}- minted: https:\/\/reports.internal\n {8}scopes: \[reports.read\]\n/,
          'grant: []\n',
        ),
      ),
    ).toEqual(['policy.yaml:24: rules[1].grant: must not be empty']);
    expect(problems(base.replace('      - secrets: [storage-*]', '      - keys: [k]'))[0]).toMatch(/^policy\.yaml:21: rules\[0\]\.grant\[2\]/);
  });

  it('refuses HMAC and none as caller algorithms', () => {
    for (const alg of ['HS256', 'none']) {
      expect(problems(base.replace('    audience: api://tokex', `    audience: api://tokex\n    algorithms: [${alg}]`))[0]).toMatch(
        /^policy\.yaml:5: issuers\[0\]\.algorithms\[0\]: /,
      );
    }
  });

  it('refuses plain http issuers except on loopback', () => {
    expect(problems(base.replace(`https://login.microsoftonline.com/${TENANT}/v2.0`, 'http://idp.example'))).toEqual([
      'policy.yaml:3: issuers[0].issuer: must be an https URL (http only on loopback)',
    ]);
    expect(() => load(base.replace(`https://login.microsoftonline.com/${TENANT}/v2.0`, 'http://127.0.0.1:9999'))).not.toThrow();
  });

  it('refuses a policy that trusts tokex itself', () => {
    expect(problems(base.replace(`https://login.microsoftonline.com/${TENANT}/v2.0`, 'https://tokex.example'))).toEqual([
      'policy.yaml:3: issuers[0].issuer: is tokex itself (TOKEX_ISSUER): its minted tokens are never accepted as subject tokens',
    ]);
  });

  it('requires tenants for a {tenantid} template issuer', () => {
    expect(problems(base.replace(`${TENANT}/v2.0`, '{tenantid}/v2.0'))).toEqual([
      'policy.yaml:2: issuers[0].tenants: is required for a {tenantid} template issuer',
    ]);
  });

  it('refuses azure-cli identities in Azure but not locally', () => {
    const text = base.replace('  ml-reader: { type: managed-identity }', '  ml-reader: { type: managed-identity }\n  dev: { type: azure-cli }');
    expect(problems(text)).toEqual(['policy.yaml:7: identities.dev.type: azure-cli identities are for local development only']);
    expect(() => load(text, { ...options, mode: 'local' })).not.toThrow();
  });

  it('requires exactly one of clientSecret or certificate for a service principal', () => {
    const sp = `  ml-admin: { type: service-principal, tenantId: ${TENANT}, clientId: ${OID} }`;
    expect(problems(base.replace('  ml-reader: { type: managed-identity }', `  ml-reader: { type: managed-identity }\n${sp}`))).toEqual([
      'policy.yaml:7: identities.ml-admin: needs exactly one of clientSecret or certificate',
    ]);
  });

  it('app identities: tenantId and clientId, optionally the managed identity and the assertion audience', () => {
    const app = `  api: { type: app, tenantId: ${TENANT}, clientId: ${OID}, managedIdentityClientId: ${OID}, assertionAudience: api://AzureADTokenExchangeUSGov }`;
    const policy = load(base.replace('  ml-reader: { type: managed-identity }', `  ml-reader: { type: managed-identity }\n${app}`));
    expect(policy.identities.get('api')).toMatchObject({ type: 'app', tenantId: TENANT, clientId: OID, assertionAudience: 'api://AzureADTokenExchangeUSGov' });
    expect(
      problems(base.replace('  ml-reader: { type: managed-identity }', `  ml-reader: { type: managed-identity }\n  api: { type: app, tenantId: ${TENANT} }`)),
    ).toEqual(['policy.yaml:7: identities.api.clientId: is required']);
    expect(
      problems(
        base.replace(
          '  ml-reader: { type: managed-identity }',
          `  ml-reader: { type: managed-identity }\n  api: { type: app, tenantId: ${TENANT}, clientId: ${OID}, clientSecret: kv:x }`,
        ),
      ),
    ).toEqual(['policy.yaml:7: identities.api.clientSecret: unknown key']);
  });

  it('onBehalfOf needs an app or service-principal identity', () => {
    const app = `  api: { type: app, tenantId: ${TENANT}, clientId: ${OID} }`;
    const text = base.replace('  ml-reader: { type: managed-identity }', `  ml-reader: { type: managed-identity }\n${app}`);
    const obo = load(text.replace('identity: ml-reader', 'identity: api\n        onBehalfOf: true'));
    expect(obo.rules[0]!.grants[0]).toEqual({ kind: 'entra', target: 'https://ml.azure.com', identity: 'api', onBehalfOf: true });
    expect(load(base).rules[0]!.grants[0]).toMatchObject({ onBehalfOf: false });
    expect(problems(base.replace('identity: ml-reader', 'identity: ml-reader\n        onBehalfOf: true'))).toEqual([
      'policy.yaml:18: rules[0].grant[0].onBehalfOf: needs an identity of type app or service-principal ("ml-reader" is managed-identity)',
    ]);
    const oidc = text
      .replace('identity: ml-reader', 'identity: api\n        onBehalfOf: true')
      .replace('    audience: api://tokex', '    audience: api://tokex\n    kind: oidc');
    expect(problems(oidc)).toEqual(['policy.yaml:20: rules[0].grant[0].onBehalfOf: needs a rule on a kind: entra issuer ("corp" is oidc)']);
  });

  it('finds Entra metadata where Microsoft publishes it: v2 per tenant, v1 (sts) on login.microsoftonline.com, templates on common', () => {
    const p = load(
      base
        .replace(
          'rules:',
          `  # v1
rules:`,
        )
        .replace(
          `issuers:
  - name: corp`,
          `issuers:
  - name: v1
    issuer: https://sts.windows.net/${TENANT}/
    audience: api://tokex
  - name: multi
    issuer: https://login.microsoftonline.com/{tenantid}/v2.0
    audience: api://tokex
    tenants: [${TENANT}]
  - name: corp`,
        ),
    );
    expect(p.issuers.map((i) => [i.name, i.kind, i.discoveryUrl, i.requireScpOrRoles])).toEqual([
      ['v1', 'entra', `https://login.microsoftonline.com/${TENANT}/.well-known/openid-configuration`, true],
      ['multi', 'entra', 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration', true],
      ['corp', 'entra', `https://login.microsoftonline.com/${TENANT}/v2.0/.well-known/openid-configuration`, true],
    ]);
  });

  it('requireScpOrRoles: false opts an Entra issuer out; it means nothing for oidc issuers', () => {
    expect(load(base.replace('    audience: api://tokex', '    audience: api://tokex\n    requireScpOrRoles: false')).issuers[0]!.requireScpOrRoles).toBe(
      false,
    );
    expect(
      problems(
        base
          .replace(`https://login.microsoftonline.com/${TENANT}/v2.0`, 'https://idp.example')
          .replace('    audience: api://tokex', '    audience: api://tokex\n    requireScpOrRoles: false'),
      ),
    ).toEqual(['policy.yaml:5: issuers[0].requireScpOrRoles: is only for kind: entra']);
  });

  it('an entra issuer must name its tenant', () => {
    expect(problems(base.replace(`https://login.microsoftonline.com/${TENANT}/v2.0`, 'https://login.microsoftonline.com/common/v2.0'))).toEqual([
      'policy.yaml:3: issuers[0].issuer: an entra issuer names its tenant (a GUID) or {tenantid}',
    ]);
  });

  it('replaces ${TOKEX_*} references with settings, and names the line of one that is unset or not TOKEX_*', () => {
    const text = base.replace('audience: api://tokex', 'audience: ${TOKEX_API_CLIENT_ID}');
    expect(load(text, { ...options, env: { TOKEX_API_CLIENT_ID: OID } }).issuers[0]!.audiences).toEqual([OID]);
    expect(problems(text)).toEqual(['policy.yaml:4: issuers[0].audience: ${TOKEX_API_CLIENT_ID}: the setting TOKEX_API_CLIENT_ID is not set']);
    expect(problems(base.replace('audience: api://tokex', 'audience: ${HOME}'), { ...options, env: { HOME: '/root' } })).toEqual([
      'policy.yaml:4: issuers[0].audience: ${HOME}: only TOKEX_* settings can be referenced',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(problems('rules:\n  - name: a\n    name: b\n')[0]).toMatch(/^policy\.yaml:3: .*[Mm]ap keys must be unique/);
    expect(problems('rules: [\n')[0]).toMatch(/^policy\.yaml:\d+: /);
  });

  it('refuses lifetimes that are not durations or exceed 24h', () => {
    expect(problems(base.replace('lifetime: 15m', 'lifetime: 15 minutes'))).toEqual([
      'policy.yaml:20: rules[0].grant[1].lifetime: must be a duration such as 90s, 15m or 1h',
    ]);
    expect(problems(base.replace('lifetime: 15m', 'lifetime: 25h'))).toEqual(['policy.yaml:20: rules[0].grant[1].lifetime: must be at most 24h']);
  });
});

describe('policy matching', () => {
  const policy = load(base);
  const claims = { iss: 'x', tid: TENANT, oid: OID, roles: ['Jobs.Read', 'Jobs.Train'], xms_tag: 'b-17' };

  it('holds when every condition holds: exact, array-contains, any-of list with globs', () => {
    expect(rulesFor(policy, 'corp', claims).map((r) => r.name)).toEqual(['training-jobs', 'everyone-in-corp']);
  });

  it('a missing claim never holds', () => {
    const { xms_tag: _, ...without } = claims;
    expect(whyRuleFails(policy.rules[0]!, 'corp', without)).toBe('claim "xms_tag" is missing (rule wants a or b*)');
  });

  it('a glob matches only the whole value', () => {
    expect(whyRuleFails(policy.rules[0]!, 'corp', { ...claims, xms_tag: 'ab' })).toBe('claim "xms_tag" is "ab", rule wants a or b*');
    expect(whyRuleFails(policy.rules[0]!, 'corp', { ...claims, xms_tag: 'a' })).toBeUndefined();
    expect(whyRuleFails(policy.rules[0]!, 'corp', { ...claims, xms_tag: 'b' })).toBeUndefined();
  });

  it('glob metacharacters other than * are literal', () => {
    const p = load(base.replace('xms_tag: [a, b*]', 'xms_tag: "a.c(d)?"'));
    expect(whyRuleFails(p.rules[0]!, 'corp', { ...claims, xms_tag: 'a.c(d)?' })).toBeUndefined();
    expect(whyRuleFails(p.rules[0]!, 'corp', { ...claims, xms_tag: 'abc(d)' })).toBe('claim "xms_tag" is "abc(d)", rule wants a.c(d)?');
  });

  it("objects never hold, and the issuer must be the rule's", () => {
    expect(whyRuleFails(policy.rules[0]!, 'corp', { ...claims, oid: { oid: OID } })).toBe(`claim "oid" is {"oid":"${OID}"}, rule wants ${OID}`);
    expect(whyRuleFails(policy.rules[0]!, 'other', claims)).toBe('issuer is other, rule wants corp');
  });

  it('when.kind admits only callers of that kind (user, app, managed-identity), a list any of them', () => {
    const kinds = `issuers: [{ name: corp, issuer: "https://login.microsoftonline.com/${TENANT}/v2.0", audience: api://tokex }]
rules:
  - { name: people, when: { issuer: corp, kind: user }, grant: [{ minted: https://w.internal, scopes: [a] }] }
  - { name: machines, when: { issuer: corp, kind: [app, managed-identity], claims: { roles: Jobs.Train } }, grant: [{ minted: https://w.internal, scopes: [a] }] }
  - { name: identities, when: { issuer: corp, kind: managed-identity }, grant: [{ minted: https://w.internal, scopes: [a] }] }
`;
    const p = load(kinds);
    expect(p.rules.map((r) => r.kinds)).toEqual([['user'], ['app', 'managed-identity'], ['managed-identity']]);
    const names = (c: Record<string, unknown>) => rulesFor(p, 'corp', c).map((r) => r.name);
    const user = { oid: OID, scp: 'access_as_user' };
    const app = { oid: OID, roles: ['Jobs.Train'], idtyp: 'app' };
    const mi = {
      oid: OID,
      roles: ['Jobs.Train'],
      xms_mirid: '/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/job',
    };
    expect(names(user)).toEqual(['people']);
    expect(names({ ...user, idtyp: 'user', roles: ['Jobs.Train'] })).toEqual(['people']);
    expect(names(app)).toEqual(['machines']);
    expect(names(mi)).toEqual(['machines', 'identities']);
    // idtyp: app wins over a stray scp; a delegated token carrying xms_mirid is still a user's.
    expect(names({ ...app, scp: 'x' })).toEqual(['machines']);
    expect(names({ ...user, xms_mirid: mi.xms_mirid })).toEqual(['people']);
    expect(whyRuleFails(p.rules[2]!, 'corp', app)).toBe('caller kind is "app", rule wants "managed-identity"');
    expect(whyRuleFails(p.rules[1]!, 'corp', user)).toBe('caller kind is "user", rule wants "app" or "managed-identity"');
    expect(problems(kinds.replace('kind: user', 'kind: person'))[0]).toMatch(/^policy\.yaml:3: rules\[0\]\.when\.kind: /);
    expect(problems(kinds.replace('kind: user', 'kind: []'))).toEqual(['policy.yaml:3: rules[0].when.kind: must not be empty']);
  });

  it('the first grant in file order whose target equals the request wins', () => {
    const rules = rulesFor(policy, 'corp', claims);
    const match = tokenGrantFor(rules, 'https://workspace.internal');
    expect(match?.rule.name).toBe('training-jobs');
    expect(tokenGrantFor(rules, 'https://reports.internal')?.rule.name).toBe('everyone-in-corp');
    expect(tokenGrantFor(rules, 'https://workspace.internal/')).toBeUndefined();
    const onlyCorp = rulesFor(policy, 'corp', { tid: TENANT });
    expect(tokenGrantFor(onlyCorp, 'https://workspace.internal')?.rule.name).toBe('everyone-in-corp');
  });

  it('scopes: all allowed when omitted or .default, exactly the requested subset, nothing beyond', () => {
    const minted = tokenGrantFor(rulesFor(policy, 'corp', claims), 'https://workspace.internal')!.grant;
    expect(scopesFor(minted, undefined)).toEqual(['jobs.submit', 'data.read']);
    expect(scopesFor(minted, ['https://workspace.internal/.default'])).toEqual(['jobs.submit', 'data.read']);
    expect(scopesFor(minted, ['data.read'])).toEqual(['data.read']);
    expect(scopesFor(minted, ['data.read', 'data.write'])).toBeUndefined();
    const entra = tokenGrantFor(rulesFor(policy, 'corp', claims), 'https://ml.azure.com')!.grant;
    expect(scopesFor(entra, undefined)).toEqual(['https://ml.azure.com/.default']);
    expect(scopesFor(entra, ['https://ml.azure.com/.default'])).toEqual(['https://ml.azure.com/.default']);
    expect(scopesFor(entra, ['https://ml.azure.com/user_impersonation'])).toBeUndefined();
  });

  it('secrets grants match names by glob', () => {
    const rules = rulesFor(policy, 'corp', claims);
    expect(secretGrantFor(rules, 'storage-key')?.rule.name).toBe('training-jobs');
    expect(secretGrantFor(rules, 'db-password')).toBeUndefined();
  });
});

describe('policy.example.yaml', () => {
  it('loads with the settings infra/ provides (a reference in a flow list is quoted)', () => {
    const text = readFileSync(resolve(import.meta.dirname, '../../../policy.example.yaml'), 'utf8');
    const env = { TOKEX_TENANT_ID: TENANT, TOKEX_API_CLIENT_ID: OID, TOKEX_API_APP_ID_URI: 'api://tokex' };
    expect(load(text, { ...options, env }).issuers.map((i) => i.audiences)).toEqual([[OID], ['api://tokex', OID]]);
  });
});

describe('policy warnings', () => {
  // These tests are about the reserved-secret and never-chosen lints (the risky-choice lints have their own in policy-tooling.test.ts).
  const warnings = (text: string, reserved: string[] = []) =>
    policyWarnings(load(text), { reservedSecrets: new Set(reserved) })
      .filter((w) => !/is not used by any grant|has no condition but its issuer/.test(w.message))
      .map((w) => `${w.line}: ${w.path}: ${w.message}`);
  const head = `issuers:\n  - { name: corp, issuer: "https://login.microsoftonline.com/${TENANT}/v2.0", audience: api://tokex }\nidentities:\n  mi: { type: managed-identity }\nrules:\n`;

  it('none for a policy whose every grant can be chosen (a later rule with more scopes is reachable)', () => {
    expect(
      warnings(
        `${head}  - name: read\n    when: { issuer: corp, claims: { roles: R } }\n    grant: [{ minted: "https://j", scopes: [r] }]\n  - name: admin\n    when: { issuer: corp, claims: { roles: R } }\n    grant: [{ minted: "https://j", scopes: [r, a] }]\n`,
      ),
    ).toEqual([]);
  });

  it('a second grant for the same target in one rule, and an entra grant repeated by a narrower rule, are never chosen', () => {
    expect(
      warnings(
        `${head}  - name: one\n    when: { issuer: corp, claims: { roles: R } }\n    grant:\n      - { minted: "https://j", scopes: [r, a] }\n      - { minted: "https://j", scopes: [a] }\n      - { entra: "https://ml.azure.com", identity: mi }\n  - name: two\n    when: { issuer: corp, claims: { roles: R, oid: ${OID} } }\n    grant: [{ entra: "https://ml.azure.com", identity: mi }, { secrets: [x] }]\n`,
      ),
    ).toEqual([
      expect.stringMatching(/^10: rules\[0\]\.grant\[1\]: never chosen: an earlier grant of this rule has the same target/),
      expect.stringMatching(/^14: rules\[1\]\.grant\[0\]: never chosen: rule "one" comes first, holds whenever rule "two" does/),
    ]);
  });

  it('a rule of another issuer, or with a condition or caller kind the earlier rule does not imply, is not shadowed', () => {
    expect(
      warnings(
        `${head}  - name: one\n    when: { issuer: corp, claims: { roles: R } }\n    grant: [{ minted: "https://j", scopes: [r] }]\n  - name: two\n    when: { issuer: corp, claims: { groups: G } }\n    grant: [{ minted: "https://j", scopes: [r] }]\n`,
      ),
    ).toEqual([]);
    expect(
      warnings(
        `${head}  - name: users\n    when: { issuer: corp, kind: user }\n    grant: [{ minted: "https://j", scopes: [r] }]\n  - name: anyone\n    when: { issuer: corp, claims: { roles: R } }\n    grant: [{ minted: "https://j", scopes: [r] }]\n`,
      ),
    ).toEqual([]);
    expect(
      warnings(
        `${head}  - name: people\n    when: { issuer: corp, kind: [user, app] }\n    grant: [{ minted: "https://j", scopes: [r] }]\n  - name: users\n    when: { issuer: corp, kind: user }\n    grant: [{ minted: "https://j", scopes: [r] }]\n`,
      ),
    ).toEqual([expect.stringMatching(/^9: rules\[1\]: rule "users" can never be chosen/)]);
  });

  it('a secrets glob covering a reserved name, compared case-insensitively', () => {
    expect(warnings(`${head}  - name: s\n    when: { issuer: corp }\n    grant: [{ secrets: [Tokex-*, ok-*] }]\n`, ['tokex-signing'])).toEqual([
      expect.stringMatching(/^8: rules\[0\]\.grant\[0\]\.secrets\[0\]: "Tokex-\*" covers "tokex-signing"/),
    ]);
  });
});

describe('when.actor (delegation)', () => {
  const text = `${base}  - name: portal
    when:
      issuer: corp
      claims: { scp: "*access_as_user*" }
      actor: { issuer: corp, claims: { roles: Portal.Act } }
    grant:
      - minted: https://portal.internal
        scopes: [read]
`;
  const policy = load(text);
  const portal = policy.rules[2]!;
  const person = { tid: TENANT, oid: OID, scp: 'access_as_user' };
  const actor = { issuerName: 'corp', claims: { tid: TENANT, oid: 'a', roles: ['Portal.Act'] } };

  it('loads, and names an unknown actor issuer and unknown keys with their lines', () => {
    expect(portal.actor).toMatchObject({ issuer: 'corp', conditions: [{ claim: 'roles' }] });
    expect(policy.rules[0]!.actor).toBeUndefined();
    expect(problems(text.replace('actor: { issuer: corp', 'actor: { issuer: crop'))).toEqual([
      'policy.yaml:33: rules[2].when.actor.issuer: unknown issuer "crop" (not in issuers:)',
    ]);
    expect(problems(text.replace('actor: { issuer: corp,', 'actor: { issuer: corp, kind: app,'))).toEqual([
      'policy.yaml:33: rules[2].when.actor.kind: unknown key',
    ]);
  });

  it('a rule with actor holds only with a matching actor; one without only with none', () => {
    expect(whyRuleFails(portal, 'corp', person, actor)).toBeUndefined();
    expect(whyRuleFails(portal, 'corp', person)).toBe('the rule wants an actor token (when.actor), the request has none');
    expect(whyRuleFails(portal, 'corp', person, { ...actor, issuerName: 'other' })).toBe('actor issuer is other, rule wants corp');
    expect(whyRuleFails(portal, 'corp', person, { ...actor, claims: { roles: ['Jobs.Train'] } })).toBe(
      'actor claim "roles" is ["Jobs.Train"], rule wants Portal.Act',
    );
    expect(whyRuleFails(portal, 'corp', person, { ...actor, claims: {} })).toBe('actor claim "roles" is missing (rule wants Portal.Act)');
    expect(whyRuleFails(policy.rules[1]!, 'corp', person, actor)).toBe('the request carries an actor token, the rule has no when.actor');
  });

  it('holdingRules: no_rule when the subject matches nothing, actor_not_allowed when only the actor fails', () => {
    expect(holdingRules(policy, 'corp', person, actor).map((r) => r.name)).toEqual(['portal']);
    expect(() => holdingRules(policy, 'corp', { oid: OID }, actor)).toThrow(expect.objectContaining({ reason: 'no_rule' }));
    expect(() => holdingRules(policy, 'corp', person, { ...actor, claims: {} })).toThrow(expect.objectContaining({ reason: 'actor_not_allowed' }));
    expect(() => holdingRules(load(text.replace(/ {2}- name: everyone-in-corp[\s\S]*?(?= {2}- name: portal)/, '')), 'corp', person)).toThrow(
      expect.objectContaining({ reason: 'no_rule', detail: 'caller matches only rules that want an actor token (when.actor)' }),
    );
  });
});
