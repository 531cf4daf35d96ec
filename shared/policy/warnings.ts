import type { ClaimCondition, Grant, Policy, Rule } from './policy.js';

/** A policy that loads but probably does not mean what its author thinks: shown by `tokex policy check`. */
export interface PolicyWarning {
  readonly line: number;
  readonly path: string;
  readonly message: string;
}

export interface WarningContext {
  /** The secrets tokex itself uses, lower-cased (see credentials/reserved.ts). */
  readonly reservedSecrets: ReadonlySet<string>;
}

/**
 * Every warning for a loaded policy, in file order. One function so that more lints can be added
 * beside these: each returns `{ line, path, message }` items.
 */
export function policyWarnings(policy: Policy, context: WarningContext): PolicyWarning[] {
  return [...reservedSecretGlobs(policy, context.reservedSecrets), ...neverChosenGrants(policy), ...riskyChoices(policy), ...unusedIdentities(policy)].sort(
    (a, b) => a.line - b.line,
  );
}

/** Lifetimes above this draw a warning (the hard limit at load is 24 h). */
const LIFETIME_WARNING_SECONDS = 3600;

/**
 * Legal but risky: a rule whose only condition is its issuer (or `*`), a `secrets` glob of `*`
 * alone, an `entra` target ending in `/.default` (the scope issued would end in `/.default/.default`),
 * a minted lifetime over 1 h.
 */
function riskyChoices(policy: Policy): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  for (const [r, rule] of policy.rules.entries()) {
    if (rule.conditions.length === 0 && rule.kinds === undefined) {
      out.push(warning(policy, ['rules', r, 'when'], `rule "${rule.name}" has no condition but its issuer: it grants every caller of ${rule.issuer}`));
    } else if (rule.conditions.length > 0 && rule.kinds === undefined && rule.conditions.every((c) => c.values.every((v) => /^\*+$/.test(v)))) {
      out.push(
        warning(
          policy,
          ['rules', r, 'when', 'claims'],
          `rule "${rule.name}" only asks for claims to be present ("*"): it grants nearly every caller of ${rule.issuer}`,
        ),
      );
    }
    for (const [k, grant] of rule.grants.entries()) {
      const at = ['rules', r, 'grant', k];
      if (grant.kind === 'entra' && /\/\.default\/*$/.test(grant.target)) {
        out.push(
          warning(
            policy,
            [...at, 'entra'],
            `"${grant.target}" ends in /.default: give the resource; the scope issued is <resource>/.default (here ${grant.target.replace(/\/+$/, '')}/.default)`,
          ),
        );
      } else if (grant.kind === 'minted' && grant.lifetimeSeconds > LIFETIME_WARNING_SECONDS) {
        out.push(warning(policy, [...at, 'lifetime'], `lifetime ${grant.lifetimeSeconds} s is over 1 h: a leaked token stays useful that long`));
      } else if (grant.kind === 'secrets') {
        for (const [j, pattern] of grant.patterns.entries()) {
          if (/^\*+$/.test(pattern)) out.push(warning(policy, [...at, 'secrets', j], `"${pattern}" alone allows every secret in the vault`));
        }
      }
    }
  }
  return out;
}

/** An identity no grant uses: a credential configured (and perhaps granted rights) for nothing. */
function unusedIdentities(policy: Policy): PolicyWarning[] {
  const used = new Set(policy.rules.flatMap((rule) => rule.grants.flatMap((g) => (g.kind === 'entra' ? [g.identity] : []))));
  return [...policy.identities.keys()]
    .filter((name) => !used.has(name))
    .map((name) => warning(policy, ['identities', name], `identity "${name}" is not used by any grant`));
}

/** A `secrets` glob that covers the signing key or an identity's credential: it is never served. */
function reservedSecretGlobs(policy: Policy, reserved: ReadonlySet<string>): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  for (const [r, rule] of policy.rules.entries()) {
    for (const [k, grant] of rule.grants.entries()) {
      if (grant.kind !== 'secrets') continue;
      for (const [j, matches] of grant.matchers.entries()) {
        const covered = [...reserved].filter((name) => matches(name));
        if (covered.length === 0) continue;
        const path = ['rules', r, 'grant', k, 'secrets', j];
        out.push(
          warning(
            policy,
            path,
            `"${grant.patterns[j]}" covers ${covered.map((n) => `"${n}"`).join(', ')}, which tokex itself uses (signing key or an identity's credential); it is never served (secret_reserved)`,
          ),
        );
      }
    }
  }
  return out;
}

/**
 * A token grant that can never be chosen: an earlier grant (in file order) of the same kind and
 * target, in a rule that holds whenever this one does, already allows every scope it allows, so
 * the earlier one is always used (the first rule that allows every requested scope wins).
 */
function neverChosenGrants(policy: Policy): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  policy.rules.forEach((rule, r) => {
    const shadowed = rule.grants.map((grant, k) => (grant.kind === 'secrets' ? undefined : shadowOf(policy.rules, r, k)));
    const tokenGrants = rule.grants.filter((g) => g.kind !== 'secrets').length;
    const neverChosen = shadowed.filter((s) => s !== undefined).length;
    if (tokenGrants > 0 && neverChosen === rule.grants.length) {
      out.push(
        warning(
          policy,
          ['rules', r],
          `rule "${rule.name}" can never be chosen: for each of its targets an earlier rule (${[...new Set(shadowed.map((s) => `"${s!.name}"`))].join(', ')}) holds whenever it does and allows every scope it allows`,
        ),
      );
      return;
    }
    shadowed.forEach((by, k) => {
      if (!by) return;
      const why =
        by === rule
          ? 'an earlier grant of this rule has the same target and every scope this grant allows'
          : `rule "${by.name}" comes first, holds whenever rule "${rule.name}" does, and grants the same target with every scope this grant allows`;
      out.push(warning(policy, ['rules', r, 'grant', k], `never chosen: ${why}`));
    });
  });
  return out;
}

/** The rule of the first earlier grant that always wins over rules[r].grants[k], if any. */
function shadowOf(rules: readonly Rule[], r: number, k: number): Rule | undefined {
  const rule = rules[r]!;
  const grant = rule.grants[k]!;
  for (let i = 0; i <= r; i++) {
    const earlier = rules[i]!;
    if (i < r && !impliedBy(earlier, rule)) continue;
    const limit = i === r ? k : earlier.grants.length;
    for (let j = 0; j < limit; j++) if (covers(earlier.grants[j]!, grant)) return earlier;
  }
  return undefined;
}

/**
 * Whether `earlier` holds whenever `later` does: same issuer, every caller kind `later` admits is
 * one `earlier` admits, and each of its conditions is implied by one of `later`'s.
 */
function impliedBy(earlier: Rule, later: Rule): boolean {
  if (earlier.issuer !== later.issuer) return false;
  // A rule with `when.actor` holds only for delegation requests, one without only for others: not compared.
  if (earlier.actor !== undefined || later.actor !== undefined) return false;
  if (earlier.kinds !== undefined && (later.kinds === undefined || !later.kinds.every((k) => earlier.kinds!.includes(k)))) return false;
  return earlier.conditions.every((c) => later.conditions.some((l) => l.claim === c.claim && subsetOf(l, c)));
}

/** Any value `narrow` accepts, `wide` accepts: compared as written (a conservative check). */
function subsetOf(narrow: ClaimCondition, wide: ClaimCondition): boolean {
  return narrow.values.every((v) => wide.values.includes(v));
}

function covers(earlier: Grant, later: Grant): boolean {
  if (earlier.kind === 'secrets' || later.kind === 'secrets' || earlier.kind !== later.kind || earlier.target !== later.target) return false;
  if (earlier.kind === 'entra') return true;
  return later.kind === 'minted' && later.scopes.every((s) => earlier.scopes.includes(s));
}

function warning(policy: Policy, path: readonly (string | number)[], message: string): PolicyWarning {
  const shown = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${p}`)).join('');
  return { line: policy.locate(path), path: shown, message };
}
