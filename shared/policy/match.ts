import type { JWTPayload } from 'jose';
import { callerKind } from '../caller/caller.js';
import { quote, TokexError } from '../errors.js';
import type { ClaimCondition, Grant, Policy, Rule } from './policy.js';

export type TokenGrant = Extract<Grant, { kind: 'entra' | 'minted' }>;

/** The verified actor token of a delegation request, as the policy sees it. */
export interface ActorClaims {
  readonly issuerName: string;
  readonly claims: JWTPayload;
}

/** The claims whose string value is a space-delimited set unless an issuer says otherwise (Entra's `scp`). */
export const DEFAULT_SPACE_DELIMITED: readonly string[] = ['scp'];

/** For each issuer name, the claims its tokens carry as space-delimited sets (the issuer's `spaceDelimited`). */
export type SpaceDelimited = (issuerName: string) => readonly string[];

export function spaceDelimitedIn(policy: Pick<Policy, 'issuers'>): SpaceDelimited {
  return (issuerName) => policy.issuers.find((i) => i.name === issuerName)?.spaceDelimited ?? DEFAULT_SPACE_DELIMITED;
}

/**
 * Why a rule does not hold for a caller (and its actor, in a delegation request), or undefined when
 * it does. A missing claim never holds; an array claim holds when any element does; a space-delimited
 * claim (`scp`) when any of its tokens does, each on its own; objects never hold. A rule with
 * `when.actor` holds only with an actor that meets it, one without only with none.
 */
export function whyRuleFails(
  rule: Rule,
  issuerName: string,
  claims: JWTPayload,
  actor?: ActorClaims,
  spaceDelimited: SpaceDelimited = () => DEFAULT_SPACE_DELIMITED,
): string | undefined {
  return whySubjectFails(rule, issuerName, claims, spaceDelimited) ?? whyActorFails(rule, actor, spaceDelimited);
}

function whySubjectFails(rule: Rule, issuerName: string, claims: JWTPayload, spaceDelimited: SpaceDelimited): string | undefined {
  if (rule.issuer !== issuerName) return `issuer is ${issuerName}, rule wants ${rule.issuer}`;
  if (rule.kinds !== undefined) {
    const kind = callerKind(claims);
    if (!rule.kinds.includes(kind)) return `caller kind is "${kind}", rule wants ${rule.kinds.map((k) => `"${k}"`).join(' or ')}`;
  }
  return whyConditionsFail(rule.conditions, claims, 'claim', spaceDelimited(issuerName));
}

function whyActorFails(rule: Rule, actor: ActorClaims | undefined, spaceDelimited: SpaceDelimited): string | undefined {
  if (rule.actor === undefined) return actor === undefined ? undefined : 'the request carries an actor token, the rule has no when.actor';
  if (actor === undefined) return 'the rule wants an actor token (when.actor), the request has none';
  if (rule.actor.issuer !== actor.issuerName) return `actor issuer is ${actor.issuerName}, rule wants ${rule.actor.issuer}`;
  return whyConditionsFail(rule.actor.conditions, actor.claims, 'actor claim', spaceDelimited(actor.issuerName));
}

function whyConditionsFail(conditions: readonly ClaimCondition[], claims: JWTPayload, what: string, spaceDelimited: readonly string[]): string | undefined {
  for (const condition of conditions) {
    if (!conditionHolds(condition, claims, spaceDelimited.includes(condition.claim))) {
      const wants = condition.values.join(' or ');
      return claims[condition.claim] === undefined
        ? `${what} "${condition.claim}" is missing (rule wants ${wants})`
        : `${what} "${condition.claim}" is ${quote(claims[condition.claim])}, rule wants ${wants}`;
    }
  }
  return undefined;
}

function conditionHolds(condition: ClaimCondition, claims: JWTPayload, spaceDelimited: boolean): boolean {
  // Own properties only: a claim named like an Object.prototype member is never inherited.
  const value = Object.hasOwn(claims, condition.claim) ? claims[condition.claim] : undefined;
  const candidates = Array.isArray(value) ? value : spaceDelimited && typeof value === 'string' ? value.split(' ').filter((t) => t !== '') : [value];
  return candidates.some((c) => isScalar(c) && condition.matchers.some((m) => m(String(c))));
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

const rulesByIssuer = new WeakMap<Policy, ReadonlyMap<string, readonly Rule[]>>();
const NO_RULES: readonly Rule[] = [];

/** The policy's rules by issuer name, in file order: built once per policy (startTokex does it at startup). */
export function indexRules(policy: Policy): ReadonlyMap<string, readonly Rule[]> {
  let index = rulesByIssuer.get(policy);
  if (index === undefined) {
    const byIssuer = new Map<string, Rule[]>();
    for (const rule of policy.rules) {
      const list = byIssuer.get(rule.issuer);
      if (list) list.push(rule);
      else byIssuer.set(rule.issuer, [rule]);
    }
    index = byIssuer;
    rulesByIssuer.set(policy, index);
  }
  return index;
}

/** Every rule that holds for this caller (and actor), in file order: only the caller's issuer's rules are looked at. */
export function rulesFor(policy: Policy, issuerName: string, claims: JWTPayload, actor?: ActorClaims): Rule[] {
  const spaceDelimited = spaceDelimitedIn(policy);
  const held: Rule[] = [];
  for (const rule of indexRules(policy).get(issuerName) ?? NO_RULES) {
    if (whyRuleFails(rule, issuerName, claims, actor, spaceDelimited) === undefined) held.push(rule);
  }
  return held;
}

/**
 * The rules that hold, or the refusal: `no_rule` when none holds for the subject itself,
 * `actor_not_allowed` when some do but none admits this actor.
 */
export function holdingRules(policy: Policy, issuerName: string, claims: JWTPayload, actor?: ActorClaims): Rule[] {
  const rules = rulesFor(policy, issuerName, claims, actor);
  if (rules.length > 0) return rules;
  const spaceDelimited = spaceDelimitedIn(policy);
  const forSubject = policy.rules.filter((rule) => whySubjectFails(rule, issuerName, claims, spaceDelimited) === undefined);
  if (forSubject.length === 0) throw new TokexError('no_rule', 'caller matches no rule');
  if (actor === undefined) throw new TokexError('no_rule', 'caller matches only rules that want an actor token (when.actor)');
  throw new TokexError('actor_not_allowed', 'actor: no rule of this caller admits this actor');
}

/** The first token grant, in file order across the rules that hold, whose target equals `target`. */
export function tokenGrantFor(rules: readonly Rule[], target: string): { rule: Rule; grant: TokenGrant } | undefined {
  return tokenGrantsFor(rules, target)[0];
}

function tokenGrantsFor(rules: readonly Rule[], target: string): { rule: Rule; grant: TokenGrant }[] {
  const found: { rule: Rule; grant: TokenGrant }[] = [];
  for (const rule of rules) {
    for (const grant of rule.grants) {
      if (grant.kind !== 'secrets' && grant.target === target) found.push({ rule, grant });
    }
  }
  return found;
}

export type GrantChoice =
  | { readonly rule: Rule; readonly grant: TokenGrant; readonly scopes: readonly string[] }
  | { readonly rule: Rule; readonly grant: TokenGrant; readonly scopes: undefined };

/**
 * The grant to use for `target` and the requested scopes: the first, in file order across the rules
 * that hold, that allows every requested scope. When grants for the target exist but none allows
 * them all, the first of them with `scopes: undefined` (scope_not_allowed); undefined when none
 * grants the target (target_not_allowed).
 */
export function chooseTokenGrant(rules: readonly Rule[], target: string, requested: readonly string[] | undefined): GrantChoice | undefined {
  const candidates = tokenGrantsFor(rules, target);
  for (const candidate of candidates) {
    const scopes = scopesFor(candidate.grant, requested);
    if (scopes) return { ...candidate, scopes };
  }
  const first = candidates[0];
  return first && { ...first, scopes: undefined };
}

/** The first secrets grant, in file order across the rules that hold, whose globs allow `name`. */
export function secretGrantFor(rules: readonly Rule[], name: string): { rule: Rule; grant: Extract<Grant, { kind: 'secrets' }> } | undefined {
  for (const rule of rules) {
    for (const grant of rule.grants) {
      if (grant.kind === 'secrets' && grant.matchers.some((m) => m(name))) return { rule, grant };
    }
  }
  return undefined;
}

/**
 * The scopes to issue for a grant: everything allowed when none (or `<target>/.default`) is
 * requested, else exactly what was requested, provided each is allowed. Never widened or narrowed:
 * any scope not allowed refuses the whole request (undefined).
 */
export function scopesFor(grant: TokenGrant, requested: readonly string[] | undefined): readonly string[] | undefined {
  const dotDefault = dotDefaultOf(grant);
  if (grant.kind === 'entra') {
    return requested === undefined || (requested.length === 1 && requested[0] === dotDefault) ? [dotDefault] : undefined;
  }
  if (requested === undefined || (requested.length === 1 && requested[0] === dotDefault)) return grant.scopes;
  const unique = [...new Set(requested)];
  return unique.every((s) => grant.scopes.includes(s)) ? unique : undefined;
}

const dotDefaults = new WeakMap<TokenGrant, string>();

/** `<target>/.default`, the Entra way of asking for everything: computed once per grant. */
function dotDefaultOf(grant: TokenGrant): string {
  let scope = dotDefaults.get(grant);
  if (scope === undefined) {
    scope = `${grant.target.replace(/\/+$/, '')}/.default`;
    dotDefaults.set(grant, scope);
  }
  return scope;
}
