import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { type Document, isNode, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { tenantOf } from '../caller/entra.js';
import { ConfigError } from '../errors.js';
import { seconds } from './duration.js';
import { compileGlob } from './glob.js';
import { issuerConfig } from './issuer-config.js';
import type { ClaimCondition, Grant, IdentityConfig, IssuerConfig, Policy, Rule } from './policy.js';
import { KNOWN_KEYS, type PolicyDocument, policySchema } from './schema.js';

export interface PolicyLoadOptions {
  /** tokex's own issuer: a policy that trusts it is refused (a minted token must never be a subject token). */
  readonly ownIssuer: string;
  /** Issuers the host provides without a policy entry (the local host's `dev`). */
  readonly builtInIssuers?: readonly IssuerConfig[];
  /** `azure-cli` identities are for local development only. */
  readonly mode: 'azure' | 'local';
  /** Settings that `${TOKEX_…}` references in the policy are replaced with. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A relative file name is read from here (default: the process's working directory); messages keep the name as given. */
  readonly cwd?: string;
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

export function loadPolicyFile(file: string, options: PolicyLoadOptions): Policy {
  let text: string;
  try {
    text = readFileSync(options.cwd === undefined ? file : resolve(options.cwd, file), 'utf8');
  } catch (err) {
    throw new PolicyError(file, [{ line: 0, path: '', message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }]);
  }
  return parsePolicy(text, file, options);
}

/**
 * Parses YAML or JSON (JSON is read as YAML 1.2), checks the schema and the cross-references, compiles.
 * Anything the YAML parser would silently reinterpret is refused: warnings and unknown tags, numbers
 * it would change (`0x10`, `010`, `1e3`, unsafe integers), and an alias bomb.
 */
export function parsePolicy(source: string, file: string, options: PolicyLoadOptions): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const parseProblems = [...doc.errors, ...doc.warnings];
  if (parseProblems.length > 0) {
    throw new PolicyError(
      file,
      parseProblems.map((e) => ({ line: lineCounter.linePos(e.pos[0]).line, path: '', message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  const locate = (path: readonly PropertyKey[]): number => lineOf(doc, lineCounter, path);

  const scalarProblems = checkScalars(doc, source, lineCounter, options.env ?? {});
  if (scalarProblems.length > 0) throw new PolicyError(file, scalarProblems);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml refuses an alias bomb (and other unreadable structure) with an exception: one line, no stack.
    throw new PolicyError(file, [{ line: firstAliasLine(doc, lineCounter), path: '', message: `cannot be read: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const parsed = policySchema.safeParse(data ?? {});
  if (!parsed.success) {
    throw new PolicyError(
      file,
      flattenIssues(parsed.error.issues).map((i) => problem(locate, i.path, i.message)),
    );
  }

  const problems: PolicyProblem[] = [];
  const report = (path: PropertyKey[], message: string) => problems.push(problem(locate, path, message));
  const policy = compile(parsed.data, file, options, report, locate);
  if (problems.length > 0) throw new PolicyError(file, problems);
  return policy;
}

/** yaml's own default; more aliases than this in one document is a resource-exhaustion attempt. */
const MAX_ALIAS_COUNT = 100;
/** How a number must be written to mean exactly what it says: an integer in plain decimal. */
const PLAIN_INTEGER = /^-?(0|[1-9][0-9]*)$/;
const SETTING_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const STR_TAG = 'tag:yaml.org,2002:str';
const RESERVED_CLAIM_NAMES = ['__proto__', 'constructor', 'prototype'];

/**
 * Walks every scalar once, after parsing:
 * - `${TOKEX_API_CLIENT_ID}` and the like are replaced by that setting's value inside the parsed
 *   string, so one policy file can serve several deployments (infra/ sets them from its parameters)
 *   and a value holding a newline, `#`, `[`, `,` or `:` stays one string. Only TOKEX_* names are
 *   read: a policy cannot pull arbitrary environment variables in.
 * - a number is accepted only as a plain decimal safe integer: YAML would silently turn `0x10`,
 *   `010`, `1e3` or `.inf` into another value, and a float or a huge integer is not compared exactly.
 * - no explicit tag but `!!str`: `!!binary`, `!!set` and the like build values no policy field takes.
 * - `__proto__`, `constructor` and `prototype` are not claim names: they mean something to
 *   JavaScript objects themselves.
 */
function checkScalars(doc: Document, source: string, counter: LineCounter, env: Readonly<Record<string, string | undefined>>): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  visit(doc, {
    Node(key, node, ancestors) {
      const line = node.range ? counter.linePos(node.range[0]).line : 0;
      const at = () => formatPath(pathOf(ancestors, node));
      if (node.tag !== undefined && node.tag !== STR_TAG)
        problems.push({ line, path: at(), message: `the tag ${node.tag.replace('tag:yaml.org,2002:', '!!')} is not accepted (only !!str)` });
      if (!isScalar(node)) return;
      if (key === 'key' && RESERVED_CLAIM_NAMES.includes(String(node.value))) {
        const path = pathOf(ancestors, node);
        const underClaims = (path.length === 5 && path[3] === 'claims') || (path.length === 6 && path[3] === 'actor' && path[4] === 'claims');
        if (underClaims && path[0] === 'rules' && path[2] === 'when') {
          problems.push({
            line,
            path: at(),
            message: `"${String(node.value)}" is not a claim name tokex accepts (__proto__, constructor and prototype are refused)`,
          });
        }
      }
      if (typeof node.value === 'number') {
        const written = node.range ? source.slice(node.range[0], node.range[1]).trim() : String(node.value);
        if (!PLAIN_INTEGER.test(written) || !Number.isSafeInteger(node.value)) {
          problems.push({
            line,
            path: at(),
            message: `the number ${written.slice(0, 40)} would not be compared exactly (YAML reads it as ${node.value}); quote it: "${written.slice(0, 40)}"`,
          });
        }
      }
      if (typeof node.value !== 'string' || !node.value.match(SETTING_REFERENCE)) return;
      // A name in the file is what the file says: rule, identity and claim names are never filled in.
      if (key === 'key') return void problems.push({ line, path: at(), message: `${node.value}: settings are not substituted in keys` });
      node.value = node.value.replace(SETTING_REFERENCE, (match, name: string) => {
        if (!name.startsWith('TOKEX_')) problems.push({ line, path: at(), message: `${match}: only TOKEX_* settings can be referenced` });
        else if (env[name] === undefined || env[name] === '') problems.push({ line, path: at(), message: `${match}: the setting ${name} is not set` });
        return env[name] ?? '';
      });
    },
  });
  return problems;
}

/** The document path of a node, from the ancestors `visit` hands over. */
function pathOf(ancestors: readonly unknown[], node: Node): PropertyKey[] {
  const chain = [...ancestors, node];
  const path: PropertyKey[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const here = chain[i];
    const next = chain[i + 1];
    if (isPair(here)) path.push(isScalar(here.key) ? String(here.key.value) : '?');
    else if (isSeq(here)) path.push(here.items.indexOf(next as never));
  }
  return path;
}

function firstAliasLine(doc: Document, counter: LineCounter): number {
  let line = 1;
  visit(doc, {
    Alias(_, node) {
      if (node.range) line = counter.linePos(node.range[0]).line;
      return visit.BREAK;
    },
  });
  return line;
}

function compile(
  doc: PolicyDocument,
  file: string,
  options: PolicyLoadOptions,
  report: (path: PropertyKey[], message: string) => void,
  locate: (path: readonly PropertyKey[]) => number,
): Policy {
  const issuers: IssuerConfig[] = [...(options.builtInIssuers ?? [])];
  doc.issuers.forEach((entry, i) => {
    const at = ['issuers', i];
    if (issuers.some((x) => x.name === entry.name)) report([...at, 'name'], `duplicate issuer name "${entry.name}"`);
    const config = issuerConfig(entry);
    // Two entries for one `iss` would make the entry a token is checked against depend on file order.
    const same = issuers.find((x) => x.issuer === config.issuer);
    if (same) report([...at, 'issuer'], `same issuer as "${same.name}"`);
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
      // Key Vault compares secret names case-insensitively, so the globs do too.
      return { kind: 'secrets', patterns: g.secrets, matchers: g.secrets.map((p) => compileGlob(p, { caseInsensitive: true })) };
    });
    const kinds = entry.when.kind === undefined ? undefined : [...new Set(Array.isArray(entry.when.kind) ? entry.when.kind : [entry.when.kind])];
    return { name: entry.name, issuer: entry.when.issuer, kinds, conditions, actor, grants };
  });

  return { source: file, issuers, identities, rules, locate };
}

function claimConditions(claims: Record<string, string | number | boolean | (string | number | boolean)[]> | undefined): ClaimCondition[] {
  return Object.entries(claims ?? {}).map(([claim, value]) => {
    const values = (Array.isArray(value) ? value : [value]).map(String);
    return { claim, values, matchers: values.map((v) => compileGlob(v)) };
  });
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
