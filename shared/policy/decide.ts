import type { Caller } from '../caller/caller.js';
import { isoSeconds } from '../caller/claims.js';
import { type DenyList, whyCallerDenied } from '../deny/deny-list.js';
import { quote, TokexError } from '../errors.js';
import { check, type Trace } from '../trace.js';
import { rulesFor, scopesFor, secretGrantFor, type TokenGrant, tokenGrantFor, whyRuleFails } from './match.js';
import type { Grant, Policy, Rule } from './policy.js';

/** What POST /token issues for a validated caller: the server and `tokex policy explain` both call decideToken. */
export interface TokenDecision {
  readonly rule: Rule;
  readonly grant: TokenGrant;
  readonly scopes: readonly string[];
  /** The most a minted token may live: the grant's lifetime, cut to the subject token's `exp`. */
  readonly lifetimeSeconds: number;
}

export interface SecretDecision {
  readonly rule: Rule;
  readonly grant: Extract<Grant, { kind: 'secrets' }>;
}

/** Longest list of per-rule reasons kept in a `no_rule` detail. */
const MAX_RULE_REASONS = 600;

/**
 * The policy's answer for a caller and a target, as a pure function of its inputs: deny-list,
 * rules that hold, the grant for the target, the scopes (never widened), the lifetime. Throws the
 * refusal with a detail naming both sides.
 */
export function decideToken(
  policy: Policy,
  denyList: DenyList,
  caller: Caller,
  request: { readonly target: string; readonly scopes: readonly string[] | undefined },
  nowSeconds: number,
  trace?: Trace,
): TokenDecision {
  const rules = holdingRules(policy, denyList, caller, trace);
  const match = check(trace, 'target', { actual: quote(request.target), expected: `a target granted by ${rules.map((r) => r.name).join(', ')}` }, () => {
    const found = tokenGrantFor(rules, request.target);
    if (!found) {
      const targets = [...new Set(rules.flatMap((r) => r.grants.flatMap((g) => (g.kind === 'secrets' ? [] : [g.target]))))];
      throw new TokexError(
        'target_not_allowed',
        `target ${quote(request.target)} is not granted by rule ${rules.map((r) => r.name).join(', ')} (grants ${targets.join(' ') || 'no tokens'})`,
      );
    }
    return found;
  });
  check(trace, 'rule not denied', { actual: match.rule.name, expected: 'not on the deny-list' }, () => {
    if (denyList.rules.includes(match.rule.name)) throw new TokexError('caller_denied', `rule ${match.rule.name} is on the deny-list`);
  });
  const allowed = match.grant.kind === 'entra' ? `${match.grant.target.replace(/\/+$/, '')}/.default` : match.grant.scopes.join(' ');
  const scopes = check(
    trace,
    'scope',
    { actual: request.scopes === undefined ? 'none requested' : quote(request.scopes.join(' ')), expected: `within ${allowed}` },
    () => {
      const granted = scopesFor(match.grant, request.scopes);
      if (!granted) {
        const refused = (request.scopes ?? []).find((s) => !(scopesFor(match.grant, [s]) ?? []).includes(s)) ?? request.scopes?.join(' ');
        throw new TokexError('scope_not_allowed', `scope ${quote(refused)} not granted for ${match.grant.target} (rule ${match.rule.name} allows ${allowed})`);
      }
      return granted;
    },
  );
  const exp = caller.claims.exp as number;
  const lifetimeSeconds = check(trace, 'lifetime', { actual: `exp ${isoSeconds(exp)}`, expected: 'after now' }, () => {
    // Inside the clock tolerance a token is still valid, but nothing is granted past its exp.
    if (exp <= nowSeconds)
      throw new TokexError('expired', `exp ${isoSeconds(exp)} is ${Math.round(nowSeconds - exp)} s in the past (no grant past the subject token's exp)`);
    const cap = Math.floor(exp - nowSeconds);
    return match.grant.kind === 'minted' ? Math.min(match.grant.lifetimeSeconds, cap) : cap;
  });
  return { rule: match.rule, grant: match.grant, scopes, lifetimeSeconds };
}

/** The policy's answer for GET /credentials/{name}. */
export function decideSecret(policy: Policy, denyList: DenyList, caller: Caller, name: string, allowedName: boolean, trace?: Trace): SecretDecision {
  const rules = holdingRules(policy, denyList, caller, trace);
  const match = check(trace, 'secret', { actual: quote(name) }, () => {
    const found = allowedName ? secretGrantFor(rules, name) : undefined;
    if (!found) throw new TokexError('secret_not_allowed', `secret ${quote(name)} is not allowed by rule ${rules.map((r) => r.name).join(', ')}`);
    return found;
  });
  check(trace, 'rule not denied', { actual: match.rule.name, expected: 'not on the deny-list' }, () => {
    if (denyList.rules.includes(match.rule.name)) throw new TokexError('caller_denied', `rule ${match.rule.name} is on the deny-list`);
  });
  return match;
}

/** The deny-list, then every rule in file order: the rules that hold, or `no_rule` saying why each does not. */
function holdingRules(policy: Policy, denyList: DenyList, caller: Caller, trace: Trace | undefined): Rule[] {
  check(
    trace,
    'deny-list',
    { actual: `${caller.issuerName} ${caller.objectId ? `oid ${quote(caller.objectId)}` : `sub ${quote(caller.subject)}`}`, expected: 'not on the deny-list' },
    () => {
      const why = whyCallerDenied(denyList, caller);
      if (why) throw new TokexError('caller_denied', why);
    },
  );
  const reasons: string[] = [];
  for (const rule of policy.rules) {
    const why = whyRuleFails(rule, caller.issuerName, caller.claims);
    if (why !== undefined) reasons.push(`${rule.name}: ${why}`);
    trace?.step?.({ check: `rule ${rule.name}`, outcome: why === undefined ? 'PASS' : 'FAIL', ...(why !== undefined && { detail: why }) });
  }
  const rules = rulesFor(policy, caller.issuerName, caller.claims);
  return check(trace, 'rules', { actual: `${rules.length} hold`, expected: 'at least one' }, () => {
    if (rules.length === 0) {
      const all = reasons.join('; ');
      throw new TokexError(
        'no_rule',
        `caller matches no rule (${all.length > MAX_RULE_REASONS ? `${all.slice(0, MAX_RULE_REASONS - 1)}…` : all || 'the policy has no rules'})`,
      );
    }
    return rules;
  });
}
