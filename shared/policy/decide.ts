import type { Caller } from '../caller/caller.js';
import { isoSeconds } from '../caller/claims.js';
import { type DenyList, whyCallerDenied } from '../deny/deny-list.js';
import { quote, TokexError } from '../errors.js';
import type { OboUser } from '../grants/entra.js';
import { oboUser } from '../grants/on-behalf-of.js';
import { check, type Trace } from '../trace.js';
import { type ActorClaims, chooseTokenGrant, holdingRules, scopesFor, secretGrantFor, spaceDelimitedIn, type TokenGrant, whyRuleFails } from './match.js';
import type { Grant, IssuerConfig, Policy, Rule } from './policy.js';

/** What POST /token issues for a validated caller: the server and `tokex policy explain` both call decideToken. */
export interface TokenDecision {
  readonly rule: Rule;
  readonly grant: TokenGrant;
  readonly scopes: readonly string[];
  /** The most a minted token may live: the grant's lifetime, cut to the subject token's `exp`. */
  readonly lifetimeSeconds: number;
  /** An on-behalf-of grant: the user Entra is asked for. */
  readonly obo?: OboUser;
}

export interface SecretDecision {
  readonly rule: Rule;
  readonly grant: Extract<Grant, { kind: 'secrets' }>;
}

/** The request as the decision needs it. */
export interface DecisionRequest {
  readonly target: string;
  readonly scopes: readonly string[] | undefined;
  /** The subject token itself: the assertion of an on-behalf-of grant (never logged). */
  readonly subjectToken: string;
}

/** Longest list of per-rule reasons kept in a `no_rule` detail. */
const MAX_RULE_REASONS = 600;

/** The kind of a trusted issuer, by name (oidc when unknown, the kind trusted with less). */
export function issuerKindOf(policy: Policy, name: string): IssuerConfig['kind'] {
  return policy.issuers.find((i) => i.name === name)?.kind ?? 'oidc';
}

/**
 * The policy's answer for a caller (and its actor, in a delegation request) and a target, as a pure
 * function of its inputs: deny-list, rules that hold, the grant for the target, the scopes (never
 * widened), the on-behalf-of pre-check, the lifetime. Throws the refusal with a detail naming both sides.
 */
export function decideToken(
  policy: Policy,
  denyList: DenyList,
  caller: Caller,
  request: DecisionRequest,
  nowSeconds: number,
  trace?: Trace,
  actor?: Caller,
): TokenDecision {
  const rules = rulesHolding(policy, denyList, caller, actor, trace);
  // The first rule, in file order, that allows every requested scope for the target.
  const choice = check(
    trace,
    'target',
    () => ({ actual: quote(request.target), expected: `a target granted by ${rules.map((r) => r.name).join(', ')}` }),
    () => {
      const found = chooseTokenGrant(rules, request.target, request.scopes);
      if (!found) {
        const targets = [...new Set(rules.flatMap((r) => r.grants.flatMap((g) => (g.kind === 'secrets' ? [] : [g.target]))))];
        throw new TokexError(
          'target_not_allowed',
          `target ${quote(request.target)} is not granted by rule ${rules.map((r) => r.name).join(', ')} (grants ${targets.join(' ') || 'no tokens'})`,
        );
      }
      return found;
    },
  );
  const { grant } = choice;
  const match = { rule: choice.rule, grant };
  trace?.rule?.(match.rule.name);
  const allowed = grant.kind === 'entra' ? `${grant.target.replace(/\/+$/, '')}/.default` : grant.scopes.join(' ');
  const scopes = check(
    trace,
    'scope',
    () => ({ actual: request.scopes === undefined ? 'none requested' : quote(request.scopes.join(' ')), expected: `within ${allowed}` }),
    () => {
      if (!choice.scopes) {
        const refused = (request.scopes ?? []).find((s) => !(scopesFor(grant, [s]) ?? []).includes(s)) ?? request.scopes?.join(' ');
        throw new TokexError('scope_not_allowed', `scope ${quote(refused)} not granted for ${grant.target} (rule ${match.rule.name} allows ${allowed})`);
      }
      return choice.scopes;
    },
  );
  checkRuleNotDenied(denyList, match.rule.name, trace);
  // On-behalf-of: checked here so a request Entra would refuse never reaches it.
  const obo =
    grant.kind === 'entra' && grant.onBehalfOf
      ? check(
          trace,
          'on-behalf-of',
          () => ({ actual: `${caller.kind} of ${caller.issuerName}`, expected: `an Entra user token for identity ${grant.identity}` }),
          () => oboUser(caller, issuerKindOf(policy, caller.issuerName), policy.identities.get(grant.identity)!, request.subjectToken),
        )
      : undefined;
  const exp = caller.claims.exp as number;
  const lifetimeSeconds = check(
    trace,
    'lifetime',
    () => ({ actual: `exp ${isoSeconds(exp)}`, expected: 'after now' }),
    () => {
      // Inside the clock tolerance a token is still valid, but nothing is granted past its exp.
      if (exp <= nowSeconds)
        throw new TokexError('expired', `exp ${isoSeconds(exp)} is ${Math.round(nowSeconds - exp)} s in the past (no grant past the subject token's exp)`);
      const cap = Math.floor(exp - nowSeconds);
      return grant.kind === 'minted' ? Math.min(grant.lifetimeSeconds, cap) : cap;
    },
  );
  return { rule: match.rule, grant, scopes, lifetimeSeconds, ...(obo && { obo }) };
}

/** The policy's answer for GET /credentials/{name}. */
export function decideSecret(policy: Policy, denyList: DenyList, caller: Caller, name: string, allowedName: boolean, trace?: Trace): SecretDecision {
  const rules = rulesHolding(policy, denyList, caller, undefined, trace);
  const match = check(
    trace,
    'secret',
    () => ({ actual: quote(name) }),
    () => {
      const found = allowedName ? secretGrantFor(rules, name) : undefined;
      if (!found) throw new TokexError('secret_not_allowed', `secret ${quote(name)} is not allowed by rule ${rules.map((r) => r.name).join(', ')}`);
      return found;
    },
  );
  trace?.rule?.(match.rule.name);
  checkRuleNotDenied(denyList, match.rule.name, trace);
  return match;
}

/** A rule on the deny-list refuses the request rather than falling through to the next rule. */
function checkRuleNotDenied(denyList: DenyList, rule: string, trace: Trace | undefined): void {
  check(
    trace,
    'rule not denied',
    () => ({ actual: rule, expected: 'not on the deny-list' }),
    () => {
      if (denyList.rules.includes(rule)) throw new TokexError('caller_denied', `rule ${rule} is on the deny-list`);
    },
  );
}

/** The deny-list, then every rule in file order: the rules that hold, or the refusal saying why each does not. */
function rulesHolding(policy: Policy, denyList: DenyList, caller: Caller, actor: Caller | undefined, trace: Trace | undefined): Rule[] {
  const who = (c: Caller) => `${c.issuerName} ${c.objectId ? `oid ${quote(c.objectId)}` : `sub ${quote(c.subject)}`}`;
  check(
    trace,
    'deny-list',
    () => ({ actual: actor ? `${who(caller)}, actor ${who(actor)}` : who(caller), expected: 'not on the deny-list' }),
    () => {
      const why = whyCallerDenied(denyList, caller) ?? (actor && whyCallerDenied(denyList, actor));
      if (why) throw new TokexError('caller_denied', actor && !whyCallerDenied(denyList, caller) ? `actor: ${why}` : why);
    },
  );
  const actorClaims: ActorClaims | undefined = actor && { issuerName: actor.issuerName, claims: actor.claims };
  // Why each rule does not hold: for explain's steps and a refusal's detail only, never on a grant's path.
  const whyNot = () => policy.rules.map((rule) => ({ rule, why: whyRuleFails(rule, caller.issuerName, caller.claims, actorClaims, spaceDelimitedIn(policy)) }));
  if (trace?.step) {
    for (const { rule, why } of whyNot())
      trace.step({ check: `rule ${rule.name}`, outcome: why === undefined ? 'PASS' : 'FAIL', ...(why !== undefined && { detail: why }) });
  }
  return check(
    trace,
    'rules',
    () => ({ expected: 'at least one holds' }),
    () => {
      try {
        return holdingRules(policy, caller.issuerName, caller.claims, actorClaims);
      } catch (err) {
        if (!(err instanceof TokexError)) throw err;
        const all = whyNot()
          .flatMap(({ rule, why }) => (why === undefined ? [] : [`${rule.name}: ${why}`]))
          .join('; ');
        const why = all.length > MAX_RULE_REASONS ? `${all.slice(0, MAX_RULE_REASONS - 1)}…` : all || 'the policy has no rules';
        throw new TokexError(err.reason, `${err.detail} (${why})`, { cause: err });
      }
    },
  );
}
