import type { Policy, PolicyWarning } from './policy.js';

/** Lifetimes above this draw a warning (the hard limit at load is 24 h). */
const LIFETIME_WARNING_SECONDS = 3600;

type Locate = (path: readonly PropertyKey[]) => number;

/**
 * Risky but legal policy: `tokex policy check` prints these (`--strict` makes them errors) and the
 * server logs them at startup. Every warning is one `{line, path, message}` item, like a load error.
 */
export function policyWarnings(policy: Policy, locate: Locate): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  const warn = (path: PropertyKey[], message: string) => warnings.push({ line: locate(path), path: formatPath(path), message });
  const usedIdentities = new Set<string>();

  policy.rules.forEach((rule, r) => {
    const at = ['rules', r];
    if (rule.conditions.length === 0) {
      warn([...at, 'when'], `rule "${rule.name}" has no condition but its issuer: it grants every caller of ${rule.issuer}`);
    } else if (rule.conditions.every((c) => c.patterns.every((p) => /^\*+$/.test(p)))) {
      warn([...at, 'when', 'claims'], `rule "${rule.name}" only asks for claims to be present ("*"): it grants nearly every caller of ${rule.issuer}`);
    }
    rule.grants.forEach((grant, g) => {
      const gat = [...at, 'grant', g];
      if (grant.kind === 'entra') {
        usedIdentities.add(grant.identity);
        if (/\/\.default\/*$/.test(grant.target)) {
          warn(
            [...gat, 'entra'],
            `"${grant.target}" ends in /.default: give the resource; the scope issued is <resource>/.default (here ${grant.target.replace(/\/+$/, '')}/.default)`,
          );
        }
      } else if (grant.kind === 'minted') {
        if (grant.lifetimeSeconds > LIFETIME_WARNING_SECONDS)
          warn([...gat, 'lifetime'], `lifetime ${grant.lifetimeSeconds} s is over 1 h: a leaked token stays useful that long`);
      } else {
        grant.patterns.forEach((pattern, p) => {
          if (/^\*+$/.test(pattern)) warn([...gat, 'secrets', p], `"${pattern}" alone allows every secret in the vault`);
        });
      }
    });
  });

  for (const name of policy.identities.keys()) {
    if (!usedIdentities.has(name)) warn(['identities', name], `identity "${name}" is not used by any grant`);
  }
  return warnings;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}
