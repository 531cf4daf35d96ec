import { readFileSync } from 'node:fs';
import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { discoveryUrlFor, tenantOf } from '../caller/entra.js';
import { ConfigError } from '../errors.js';
import { compileGlob } from './glob.js';
import { policyWarnings } from './lint.js';
import type { ClaimCondition, Grant, IdentityConfig, IssuerConfig, Policy, Rule } from './policy.js';
import { DURATION, KNOWN_KEYS, policySchema, type IssuerEntry, type PolicyDocument } from './schema.js';

export interface PolicyLoadOptions {
  /** tokex's own issuer: a policy that trusts it is refused (a minted token must never be a subject token). */
  readonly ownIssuer: string;
  /** Issuers the host provides without a policy entry (the local host's `dev`). */
  readonly builtInIssuers?: readonly IssuerConfig[];
  /** `azure-cli` identities are for local development only. */
  readonly mode: 'azure' | 'local';
  /** Settings that `${TOKEX_…}` references in the policy are replaced with. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** One problem in a policy file, located for a human. */
export interface PolicyProblem {
  readonly line: number;
  readonly path: string;
  readonly message: string;
}

export class PolicyError extends ConfigError {
  constructor(
    readonly file: string,
    readonly problems: readonly PolicyProblem[],
  ) {
    super(problems.map((p) => `${file}${p.line > 0 ? `:${p.line}` : ''}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'));
    this.name = 'PolicyError';
  }
}

const MAX_LIFETIME_SECONDS = 24 * 3600;
const DEFAULT_LIFETIME_SECONDS = 600;
const ENTRA_HOSTS = new Set(['login.microsoftonline.com', 'sts.windows.net']);

export function loadPolicyFile(file: string, options: PolicyLoadOptions): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyError(file, [{ line: 0, path: '', message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }]);
  }
  return parsePolicy(text, file, options);
}

/** Parses YAML or JSON (JSON is read as YAML 1.2), checks the schema and the cross-references, compiles. */
export function parsePolicy(source: string, file: string, options: PolicyLoadOptions): Policy {
  const text = substituteSettings(source, file, options.env ?? {});
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => ({ line: lineCounter.linePos(e.pos[0]).line, path: '', message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  const locate = (path: readonly PropertyKey[]): number => lineOf(doc, lineCounter, path);

  const parsed = policySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new PolicyError(file, flattenIssues(parsed.error.issues).map((i) => problem(locate, i.path, i.message)));
  }

  const problems: PolicyProblem[] = [];
  const report = (path: PropertyKey[], message: string) => problems.push(problem(locate, path, message));
  const policy = compile(parsed.data, file, options, report);
  if (problems.length > 0) throw new PolicyError(file, problems);
  return { ...policy, warnings: policyWarnings(policy, locate) };
}

/**
 * `${TOKEX_API_CLIENT_ID}` and the like are replaced by that setting's value, so one policy file can
 * serve several deployments (infra/ sets them from its parameters). Only TOKEX_* names are read: a
 * policy cannot pull arbitrary environment variables in.
 */
function substituteSettings(text: string, file: string, env: Readonly<Record<string, string | undefined>>): string {
  const problems: PolicyProblem[] = [];
  const out = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string, offset: number) => {
    const line = text.slice(0, offset).split('\n').length;
    if (!name.startsWith('TOKEX_')) problems.push({ line, path: '', message: `${match}: only TOKEX_* settings can be referenced` });
    else if (env[name] === undefined || env[name] === '') problems.push({ line, path: '', message: `${match}: the setting ${name} is not set` });
    return env[name] ?? '';
  });
  if (problems.length > 0) throw new PolicyError(file, problems);
  return out;
}

function compile(
  doc: PolicyDocument,
  file: string,
  options: PolicyLoadOptions,
  report: (path: PropertyKey[], message: string) => void,
): Policy {
  const issuers: IssuerConfig[] = [...(options.builtInIssuers ?? [])];
  doc.issuers.forEach((entry, i) => {
    const at = ['issuers', i];
    if (issuers.some((x) => x.name === entry.name)) report([...at, 'name'], `duplicate issuer name "${entry.name}"`);
    const config = issuerConfig(entry);
    if (config.issuer.replace(/\/+$/, '') === options.ownIssuer) {
      report([...at, 'issuer'], 'is tokex itself (TOKEX_ISSUER): its minted tokens are never accepted as subject tokens');
    }
    if (config.issuer.includes('{tenantid}')) {
      if (config.kind !== 'entra') report([...at, 'issuer'], '{tenantid} templates are only for kind: entra');
      else if (config.tenants === undefined) report([...at, 'tenants'], 'is required for a {tenantid} template issuer');
    } else if (config.kind === 'entra' && tenantOf(config.issuer) === undefined) {
      report([...at, 'issuer'], 'an entra issuer names its tenant (a GUID) or {tenantid}');
    }
    if (entry.requireScpOrRoles !== undefined && config.kind !== 'entra') report([...at, 'requireScpOrRoles'], 'is only for kind: entra');
    issuers.push(config);
  });

  const identities = new Map<string, IdentityConfig>();
  for (const [name, entry] of Object.entries(doc.identities)) {
    if (entry.type === 'azure-cli' && options.mode === 'azure') {
      report(['identities', name, 'type'], 'azure-cli identities are for local development only');
    }
    identities.set(name, { ...entry, name });
  }

  const ruleNames = new Set<string>();
  const rules: Rule[] = doc.rules.map((entry, r) => {
    const at = ['rules', r];
    if (ruleNames.has(entry.name)) report([...at, 'name'], `duplicate rule name "${entry.name}"`);
    ruleNames.add(entry.name);
    if (!issuers.some((x) => x.name === entry.when.issuer)) {
      report([...at, 'when', 'issuer'], `unknown issuer "${entry.when.issuer}" (not in issuers:)`);
    }
    const conditions = claimConditions(entry.when.claims);
    const actor = entry.when.actor && { issuer: entry.when.actor.issuer, conditions: claimConditions(entry.when.actor.claims) };
    if (actor && !issuers.some((x) => x.name === actor.issuer)) {
      report([...at, 'when', 'actor', 'issuer'], `unknown issuer "${actor.issuer}" (not in issuers:)`);
    }
    const grants: Grant[] = entry.grant.map((g, k): Grant => {
      if ('entra' in g) {
        const identity = identities.get(g.identity);
        if (!identity) report([...at, 'grant', k, 'identity'], `unknown identity "${g.identity}" (not in identities:)`);
        // On-behalf-of is a confidential client's flow: an app registration, with a secret, certificate or federated credential.
        else if (g.onBehalfOf && identity.type !== 'app' && identity.type !== 'service-principal') {
          report([...at, 'grant', k, 'onBehalfOf'], `needs an identity of type app or service-principal ("${g.identity}" is ${identity.type})`);
        }
        // The user must be one Entra vouches for: the subject comes from a kind: entra issuer.
        const subjectIssuer = issuers.find((x) => x.name === entry.when.issuer);
        if (g.onBehalfOf && subjectIssuer && subjectIssuer.kind !== 'entra') {
          report([...at, 'grant', k, 'onBehalfOf'], `needs a rule on a kind: entra issuer ("${subjectIssuer.name}" is ${subjectIssuer.kind})`);
        }
        return { kind: 'entra', target: g.entra, identity: g.identity, onBehalfOf: g.onBehalfOf === true };
      }
      if ('minted' in g) {
        const lifetimeSeconds = g.lifetime === undefined ? DEFAULT_LIFETIME_SECONDS : seconds(g.lifetime);
        if (lifetimeSeconds > MAX_LIFETIME_SECONDS) report([...at, 'grant', k, 'lifetime'], 'must be at most 24h');
        return { kind: 'minted', target: g.minted, scopes: [...new Set(g.scopes)], lifetimeSeconds };
      }
      return { kind: 'secrets', patterns: g.secrets, matchers: g.secrets.map(compileGlob) };
    });
    const kinds = entry.when.kind === undefined ? undefined : [...new Set(Array.isArray(entry.when.kind) ? entry.when.kind : [entry.when.kind])];
    return { name: entry.name, issuer: entry.when.issuer, kinds, conditions, actor, grants };
  });

  return { source: file, issuers, identities, rules, warnings: [] };
}

function claimConditions(claims: Record<string, string | number | boolean | (string | number | boolean)[]> | undefined): ClaimCondition[] {
  return Object.entries(claims ?? {}).map(([claim, value]) => {
    const patterns = (Array.isArray(value) ? value : [value]).map(String);
    return { claim, patterns, matchers: patterns.map(compileGlob) };
  });
}

function issuerConfig(entry: IssuerEntry): IssuerConfig {
  const kind = entry.kind ?? (ENTRA_HOSTS.has(hostOf(entry.issuer)) ? 'entra' : 'oidc');
  return {
    name: entry.name,
    kind,
    issuer: entry.issuer,
    audiences: Array.isArray(entry.audience) ? entry.audience : [entry.audience],
    jwksUri: entry.jwksUri,
    algorithms: entry.algorithms ?? ['RS256'],
    tenants: entry.tenants?.map((t) => t.toLowerCase()),
    types: (entry.types ?? ['JWT']).map((t) => t.toUpperCase()),
    discoveryUrl: discoveryUrlFor({ issuer: entry.issuer, kind }),
    requireScpOrRoles: kind === 'entra' && entry.requireScpOrRoles !== false,
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url.replace('{tenantid}', 'common')).hostname.toLowerCase();
  } catch {
    return '';
  }
}

export function seconds(duration: string): number {
  const m = DURATION.exec(duration);
  if (!m) throw new RangeError(`not a duration: ${duration}`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as const)[m[2] as 's' | 'm' | 'h'];
}

interface FlatIssue {
  readonly path: PropertyKey[];
  readonly message: string;
}

/**
 * zod reports a failed union as one issue holding every branch's issues; the author wants the
 * branch they meant, taken here as the one with the fewest complaints.
 */
function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): FlatIssue[] {
  const out: FlatIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      out.push(...(best.length > 0 ? flattenIssues(best, path) : [{ path, message: issue.message }]));
    } else if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown key${didYouMean(key, knownKeysAt(path))}` });
    } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
      out.push({ path, message: 'is required' });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

/** The keys allowed where `path` points (an object of the policy file). */
function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  const [top, , third, , fifth] = path;
  if (path.length === 0) return KNOWN_KEYS.policy;
  if (top === 'issuers' && path.length === 2) return KNOWN_KEYS.issuer;
  if (top === 'identities' && path.length === 2) return KNOWN_KEYS.identity;
  if (top === 'rules' && path.length === 2) return KNOWN_KEYS.rule;
  if (top === 'rules' && third === 'when' && path.length === 3) return KNOWN_KEYS.when;
  if (top === 'rules' && third === 'when' && path[3] === 'actor' && path.length === 4) return KNOWN_KEYS.actor;
  if (top === 'rules' && third === 'grant' && path.length === 4 && fifth === undefined) return KNOWN_KEYS.grant;
  return [];
}

/** ` (did you mean "scopes"?)` when a known key is within two edits of `key`. */
function didYouMean(key: string, known: readonly string[]): string {
  // A key known to another variant (clientSecret on an app identity) is no typo: suggest nothing.
  const best = known.length === 0 || known.includes(key) ? undefined : closest(key, [...known]);
  return best !== undefined && distance(key.toLowerCase(), best.toLowerCase()) <= 2 ? ` (did you mean "${best}"?)` : '';
}

function problem(locate: (path: readonly PropertyKey[]) => number, path: readonly PropertyKey[], message: string): PolicyProblem {
  return { line: locate(path), path: formatPath(path), message };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The line of the deepest node on `path` that exists in the document (a missing key points at its parent). */
function lineOf(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
    if (depth > 0) {
      // A key whose value is null has no value node: point at the key itself.
      const parent = doc.getIn(path.slice(0, depth - 1) as unknown[], true) as { items?: { key?: { value?: unknown; range?: [number] } }[] } | undefined;
      const pair = parent?.items?.find((item) => isNode(item.key) && (item.key as { value?: unknown }).value === path[depth - 1]);
      if (pair?.key?.range) return counter.linePos(pair.key.range[0]).line;
    }
  }
  return 1;
}
