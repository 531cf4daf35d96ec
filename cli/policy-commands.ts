import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { JWTPayload } from 'jose';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { devIssuerConfig } from '../local/dev-issuer.js';
import { type IssuerKeys, remoteIssuerKeys, staticIssuerKeys } from '../shared/caller/issuer-keys.js';
import { reservedSecretNames } from '../shared/credentials/reserved.js';
import { type DenyList, parseDenyList } from '../shared/deny/deny-list.js';
import { ConfigError, TokexError } from '../shared/errors.js';
import { DURATION, seconds } from '../shared/policy/duration.js';
import { loadPolicyFile } from '../shared/policy/load.js';
import type { IssuerConfig, Policy } from '../shared/policy/policy.js';
import { policyWarnings } from '../shared/policy/warnings.js';
import { loadSettings, type RuntimeMode, withLocalSettings } from '../shared/settings.js';
import type { CliSettings } from './context.js';
import { denyListSource } from './deny-commands.js';
import { type ExplainAnswer, type ExplainRequest, type Explanation, explain, formatExplanation } from './explain.js';

export function loadPolicyForCli(file: string, mode: RuntimeMode, where: CliSettings): Policy {
  return loadWithSettings(file, mode, where).policy;
}

function loadWithSettings(file: string, mode: RuntimeMode, where: CliSettings) {
  const settings = loadSettings(withLocalSettings(where.env, where.cwd), 'local');
  const policy = loadPolicyFile(file, {
    ownIssuer: settings.issuer,
    mode,
    env: settings.env,
    builtInIssuers: mode === 'local' ? [devIssuerConfig(settings)] : [],
    cwd: where.cwd,
  });
  return { policy, settings };
}

/**
 * `tokex policy check`: throws a PolicyError (file:line: path: problem), or says what was loaded
 * and lists warnings as `file:line: path: warning: …` lines; with `strict` they are errors (not ok).
 */
export function checkPolicy(file: string, mode: RuntimeMode, strict: boolean, where: CliSettings): { text: string; warnings: string[]; ok: boolean } {
  const { policy, settings } = loadWithSettings(file, mode, where);
  const grants = policy.rules.reduce((n, r) => n + r.grants.length, 0);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const summary = `${count(policy.issuers.length, 'issuer')}, ${policy.identities.size === 1 ? '1 identity' : `${policy.identities.size} identities`}, ${count(policy.rules.length, 'rule')}, ${count(grants, 'grant')}; checked for the ${mode === 'azure' ? 'Azure Functions' : 'local'} host`;
  const kind = strict ? 'error' : 'warning';
  const warnings = policyWarnings(policy, { reservedSecrets: reservedSecretNames(policy, settings.signingKeySecret) }).map(
    (w) => `${file}:${w.line}: ${w.path ? `${w.path}: ` : ''}${kind}: ${w.message}`,
  );
  const failed = strict && warnings.length > 0;
  const text = failed ? `${file}: ${count(warnings.length, 'warning')}, errors with --strict (${summary})` : `${file}: ok (${summary})`;
  return { text, warnings, ok: !failed };
}

/** `--jwks FILE|URL`: the keys to check the token's signature with, for whichever issuer it names. */
export function jwksKeys(jwks: string, cwd: string): (config: IssuerConfig) => IssuerKeys {
  if (/^https?:\/\//i.test(jwks)) return (config) => remoteIssuerKeys({ ...config, jwksUri: jwks });
  let set: unknown;
  try {
    set = JSON.parse(readFileSync(resolve(cwd, jwks), 'utf8'));
  } catch (err) {
    throw new ConfigError(`--jwks ${jwks}: not a readable JSON file (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
  }
  const keys = staticIssuerKeys(set as Parameters<typeof staticIssuerKeys>[0]);
  return () => keys;
}

function parseClaims(text: string, cwd: string): JWTPayload {
  let source = text;
  if (text.startsWith('@')) {
    try {
      source = readFileSync(resolve(cwd, text.slice(1)), 'utf8');
    } catch (err) {
      throw new ConfigError(`--claims ${text}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
    }
  }
  let claims: unknown;
  try {
    claims = JSON.parse(source);
  } catch {
    throw new ConfigError('--claims: not JSON (give a JSON object, or @file)');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new ConfigError('--claims: must be a JSON object');
  return claims as JWTPayload;
}

export interface ExplainOptions {
  readonly token?: string | undefined;
  readonly claims?: string | undefined;
  readonly actorToken?: string | undefined;
  readonly jwks?: string | undefined;
  /** `--deny-list kv:<secret>|FILE`: apply this deny-list as the server would (default: none). */
  readonly denyList?: string | undefined;
  readonly request: ExplainRequest;
  readonly mode: RuntimeMode;
  readonly output: 'text' | 'json';
}

/** `tokex policy explain`: the server's decision for one request, step by step. */
export async function explainPolicy(file: string, options: ExplainOptions, where: CliSettings): Promise<{ text: string; ok: boolean }> {
  if ((options.token === undefined) === (options.claims === undefined)) throw new ConfigError('policy explain: give exactly one of --token or --claims');
  const policy = loadPolicyForCli(file, options.mode, where);
  const explanation = await explain({
    policy,
    subject: options.token !== undefined ? { token: options.token.trim() } : { claims: parseClaims(options.claims!, where.cwd) },
    request: { ...options.request, actorToken: options.actorToken?.trim() },
    keysFor: options.jwks === undefined ? undefined : jwksKeys(options.jwks, where.cwd),
    ...(options.denyList !== undefined && { denyList: await readDenyList(options.denyList, where) }),
  });
  return { text: options.output === 'json' ? JSON.stringify(explanation, null, 2) : formatExplanation(explanation), ok: explanation.answer.status === 200 };
}

async function readDenyList(list: string, where: CliSettings): Promise<DenyList> {
  const source = await denyListSource(list, where);
  try {
    return parseDenyList(await source.read(), source.name);
  } catch (err) {
    throw err instanceof TokexError ? new ConfigError(`--deny-list ${err.detail}`) : err;
  }
}

/** A relative time such as `+1h` or `-90s` in a test case's claims: now plus or minus the duration. */
const RELATIVE = /^([+-])([1-9][0-9]*[smh])$/;

const caseSchema = z
  .strictObject({
    name: z.string().min(1),
    token: z.string().min(1).optional(),
    claims: z.record(z.string(), z.unknown()).optional(),
    request: z.strictObject({ resource: z.string().optional(), audience: z.string().optional(), scope: z.string().optional() }).default({}),
    expect: z.strictObject({
      outcome: z.enum(['granted', 'denied', 'failed']).optional(),
      status: z.number().int().optional(),
      reason: z.string().optional(),
      rule: z.string().optional(),
      scopes: z.array(z.string()).optional(),
      lifetime: z.string().regex(DURATION).optional(),
    }),
  })
  .refine((c) => (c.token === undefined) !== (c.claims === undefined), { message: 'give exactly one of token or claims' });

const casesSchema = z.strictObject({
  /** Fixes the clock for every case (ISO 8601); default: now. */
  now: z.string().datetime().optional(),
  cases: z.array(caseSchema).min(1),
});

export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  /** Each expectation that did not hold: `field: expected X, got Y`. */
  readonly diff: readonly string[];
  readonly answer: ExplainAnswer;
}

/**
 * `tokex policy test`: runs each case of a YAML file through the server's decision (no network:
 * signatures are not checked) and compares the answer with what the case expects.
 */
export async function testPolicy(
  file: string,
  casesFile: string,
  options: { mode: RuntimeMode; output: 'text' | 'json' },
  where: CliSettings,
): Promise<{ text: string; ok: boolean }> {
  const policy = loadPolicyForCli(file, options.mode, where);
  let text: string;
  try {
    text = readFileSync(resolve(where.cwd, casesFile), 'utf8');
  } catch (err) {
    throw new ConfigError(`${casesFile}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${casesFile}: not valid YAML (${(err as { code?: string }).code ?? (err as Error).name})`);
  }
  const parsed = casesSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${casesFile}: ${i.path.join('.') || 'top'}: ${i.message}`).join('\n'));
  }
  const nowMs = parsed.data.now ? Date.parse(parsed.data.now) : Date.now();
  const results: CaseResult[] = [];
  for (const c of parsed.data.cases) {
    const explanation: Explanation = await explain({
      policy,
      subject: c.token !== undefined ? { token: c.token } : { claims: resolveTimes(c.claims!, nowMs) },
      request: c.request,
      now: () => nowMs,
    });
    const diff = compare(c.expect, explanation.answer);
    results.push({ name: c.name, ok: diff.length === 0, diff, answer: explanation.answer });
  }
  const failed = results.filter((r) => !r.ok).length;
  const ok = failed === 0;
  if (options.output === 'json') return { text: JSON.stringify({ passed: results.length - failed, failed, cases: results }, null, 2), ok };
  const lines = results.flatMap((r) => [`${r.ok ? 'PASS' : 'FAIL'}  ${r.name}`, ...r.diff.map((d) => `      ${d}`)]);
  return { text: [...lines, `${results.length - failed} passed, ${failed} failed`].join('\n'), ok };
}

function resolveTimes(claims: Record<string, unknown>, nowMs: number): JWTPayload {
  const out: Record<string, unknown> = { ...claims };
  for (const name of ['exp', 'nbf', 'iat']) {
    const m = typeof out[name] === 'string' ? RELATIVE.exec(out[name] as string) : null;
    if (m) out[name] = Math.floor(nowMs / 1000) + (m[1] === '-' ? -1 : 1) * seconds(m[2]!);
  }
  return out as JWTPayload;
}

function compare(expected: z.infer<typeof caseSchema>['expect'], answer: ExplainAnswer): string[] {
  const outcome = answer.status < 400 ? 'granted' : answer.status < 500 ? 'denied' : 'failed';
  const diff: string[] = [];
  const differ = (field: string, want: unknown, got: unknown) => {
    if (want !== undefined && JSON.stringify(want) !== JSON.stringify(got))
      diff.push(`${field}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got ?? null)}`);
  };
  differ('outcome', expected.outcome, outcome);
  differ('status', expected.status, answer.status);
  differ('reason', expected.reason, answer.reason);
  differ('rule', expected.rule, answer.rule);
  differ('scopes', expected.scopes, answer.scopes);
  differ('lifetime', expected.lifetime === undefined ? undefined : seconds(expected.lifetime), answer.lifetimeSeconds);
  if (diff.length > 0 && answer.detail) diff.push(`(${answer.reason}: ${answer.detail})`);
  return diff;
}
