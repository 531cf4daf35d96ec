import type { JWTPayload } from 'jose';
import { actClaim, checkMayAct } from '../shared/caller/actor.js';
import { callerKind, describeCaller } from '../shared/caller/caller.js';
import { decodeCompactJws } from '../shared/caller/decode.js';
import { matchesTemplate } from '../shared/caller/entra.js';
import { TokexError } from '../shared/errors.js';
import { oboUser } from '../shared/grants/on-behalf-of.js';
import { loadPolicyFile } from '../shared/policy/load.js';
import { chooseTokenGrant, holdingRules, spaceDelimitedIn, whyRuleFails, type ActorClaims } from '../shared/policy/match.js';
import type { IssuerConfig, Policy, Rule } from '../shared/policy/policy.js';
import { policyWarnings } from '../shared/policy/warnings.js';
import { reservedSecretNames } from '../shared/credentials/reserved.js';
import { loadSettings, withLocalSettings, type RuntimeMode } from '../shared/settings.js';
import { devIssuerConfig } from '../local/dev-issuer.js';

function issuerOf(policy: Policy, claims: JWTPayload): IssuerConfig | undefined {
  const iss = String(claims.iss);
  return policy.issuers.find((i) => i.issuer === iss) ?? policy.issuers.find((i) => matchesTemplate(i, iss));
}

function load(file: string, mode: RuntimeMode): Policy {
  return loadWithSettings(file, mode).policy;
}

function loadWithSettings(file: string, mode: RuntimeMode) {
  const settings = loadSettings(withLocalSettings(process.env), 'local');
  const policy = loadPolicyFile(file, { ownIssuer: settings.issuer, mode, env: settings.env, builtInIssuers: mode === 'local' ? [devIssuerConfig(settings)] : [] });
  return { policy, settings };
}

/**
 * `tokex policy check`: throws a PolicyError (file:line: path: problem), or says what was loaded
 * and lists warnings as `file:line: path: warning: …` lines (warnings do not fail the check).
 */
export function checkPolicy(file: string, mode: RuntimeMode): { text: string; warnings: string[] } {
  const { policy, settings } = loadWithSettings(file, mode);
  const warnings = policyWarnings(policy, { reservedSecrets: reservedSecretNames(policy, settings.signingKeySecret) }).map(
    (w) => `${file}:${w.line}: ${w.path ? `${w.path}: ` : ''}warning: ${w.message}`,
  );
  return { text: summary(file, mode, policy), warnings };
}

function summary(file: string, mode: RuntimeMode, policy: Policy): string {
  const grants = policy.rules.reduce((n, r) => n + r.grants.length, 0);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  return `${file}: ok (${count(policy.issuers.length, 'issuer')}, ${policy.identities.size === 1 ? '1 identity' : `${policy.identities.size} identities`}, ${count(policy.rules.length, 'rule')}, ${count(grants, 'grant')}; checked for the ${mode === 'azure' ? 'Azure Functions' : 'local'} host)`;
}

/**
 * `tokex policy explain`: which rule and grant a token would get, or why none. Reads the token's
 * claims without verifying its signature: it explains the policy, it does not vouch for the token.
 */
export async function explainPolicy(
  file: string,
  token: string,
  request: { target?: string | undefined; scope?: string | undefined; actorToken?: string | undefined; mode: RuntimeMode },
): Promise<{ text: string; ok: boolean }> {
  const policy = load(file, request.mode);
  let claims: JWTPayload;
  try {
    claims = decodeCompactJws(token).payload as JWTPayload;
  } catch (err) {
    return { text: `token: ${err instanceof TokexError ? err.detail : 'cannot be read'}`, ok: false };
  }
  const issuer = issuerOf(policy, claims);
  const lines = [`token: iss ${JSON.stringify(claims.iss)}, sub ${JSON.stringify(claims.sub)}, kind ${callerKind(claims)} (signature not checked)`];
  if (!issuer) return { text: [...lines, 'issuer: not trusted by this policy (reason unknown_issuer)'].join('\n'), ok: false };
  lines.push(`issuer: ${issuer.name}`);
  let actor: ActorClaims | undefined;
  if (request.actorToken !== undefined) {
    let actorClaims: JWTPayload;
    try {
      actorClaims = decodeCompactJws(request.actorToken).payload as JWTPayload;
    } catch (err) {
      return { text: [...lines, `actor token: ${err instanceof TokexError ? err.detail : 'cannot be read'}`].join('\n'), ok: false };
    }
    const actorIssuer = issuerOf(policy, actorClaims);
    lines.push(`actor: iss ${JSON.stringify(actorClaims.iss)}, sub ${JSON.stringify(actorClaims.sub)}, issuer ${actorIssuer?.name ?? 'not trusted (reason unknown_issuer)'}`);
    if (!actorIssuer) return { text: lines.join('\n'), ok: false };
    try {
      checkMayAct(claims, actorClaims);
      actClaim(describeCaller(actorIssuer.name, actorIssuer.kind, actorClaims), actorIssuer.kind);
    } catch (err) {
      if (!(err instanceof TokexError)) throw err;
      return { text: [...lines, `result: ${err.detail} (reason ${err.reason})`].join('\n'), ok: false };
    }
    actor = { issuerName: actorIssuer.name, claims: actorClaims };
  }
  for (const rule of policy.rules) {
    const why = whyRuleFails(rule, issuer.name, claims, actor, spaceDelimitedIn(policy));
    lines.push(`rule ${rule.name}: ${why === undefined ? 'holds' : `does not hold (${why})`}`);
  }
  let rules: Rule[];
  try {
    rules = holdingRules(policy, issuer.name, claims, actor);
  } catch (err) {
    if (!(err instanceof TokexError)) throw err;
    const why = err.reason === 'no_rule' ? 'no rule holds' : err.detail;
    return { text: [...lines, `result: ${why} (reason ${err.reason})`].join('\n'), ok: false };
  }
  if (request.target === undefined) return { text: lines.join('\n'), ok: true };
  const match = chooseTokenGrant(rules, request.target, request.scope?.split(' '));
  if (!match) return { text: [...lines, `result: no holding rule grants ${request.target} (reason target_not_allowed)`].join('\n'), ok: false };
  const { scopes } = match;
  if (!scopes) return { text: [...lines, `result: rule ${match.rule.name} grants ${request.target}, but not every requested scope (reason scope_not_allowed)`].join('\n'), ok: false };
  if (match.grant.kind === 'entra' && match.grant.onBehalfOf) {
    try {
      oboUser(describeCaller(issuer.name, issuer.kind, claims), issuer.kind, policy.identities.get(match.grant.identity)!, token);
    } catch (err) {
      if (!(err instanceof TokexError)) throw err;
      return { text: [...lines, `result: rule ${match.rule.name} grants ${request.target} on behalf of the user, but ${err.detail} (reason ${err.reason})`].join('\n'), ok: false };
    }
  }
  const what =
    match.grant.kind === 'entra'
      ? `an Entra token as identity ${match.grant.identity}${match.grant.onBehalfOf ? ' on behalf of the user' : ''}`
      : `a minted token for ${match.grant.lifetimeSeconds}s at most`;
  return { text: [...lines, `result: rule ${match.rule.name} grants ${what}, scope "${scopes.join(' ')}"`].join('\n'), ok: true };
}
