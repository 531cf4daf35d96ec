import { expect } from 'vitest';
import { explain } from '../../cli/explain.js';
import { devIssuerConfig } from '../../local/dev-issuer.js';
import { fetchJson } from '../../shared/caller/fetch-json.js';
import { type IssuerKeys, staticIssuerKeys } from '../../shared/caller/issuer-keys.js';
import type { Reason } from '../../shared/errors.js';
import { loadPolicyFile } from '../../shared/policy/load.js';
import type { IssuerConfig, Policy } from '../../shared/policy/policy.js';
import { InProcessTokex } from './in-process.js';
import { ACCESS_TOKEN_TYPE, JWT_TYPE, type LocalTokex, TOKEN_EXCHANGE } from './local-host.js';

/** Parameters `tokex policy explain` takes; a request with any other is not one explain can restate. */
const EXPLAINABLE = new Set(['grant_type', 'subject_token', 'subject_token_type', 'resource', 'audience', 'scope', 'actor_token', 'actor_token_type']);
/** Answers that depend on something besides the request, the token and the policy. */
const OUTSIDE_THE_DECISION = new Set<Reason>(['downstream_unavailable', 'audit_unavailable', 'internal_error']);
/** Refusals only the signature's keys can tell: explain without --jwks cannot. */
const NEEDS_KEYS = (reason: Reason, detail: string | undefined) =>
  reason === 'invalid_signature' || reason === 'unknown_key' || (reason === 'wrong_issuer' && /is bound to issuer/.test(detail ?? ''));

/**
 * Makes every POST /token of a suite also ask `policy explain` (in-process, the same code) and
 * compare its answer with the server's (the `tokex serve` child, or the core in this process):
 * status, reason, rule and scopes. Explain runs twice: with the issuers' keys (so the signature is
 * checked too: must agree on every case) and without (must agree wherever the signature is valid).
 * The keys are fetched once here, never during a case.
 */
export async function checkExplainAgreement(tokex: LocalTokex | InProcessTokex): Promise<{ compared: () => number }> {
  // The policy as the server loaded it: its own issuer, and the dev issuer `tokex serve` brings.
  const port = Number(tokex.env.PORT);
  const policy: Policy = loadPolicyFile(tokex.env.TOKEX_POLICY!, {
    mode: 'local',
    env: tokex.env,
    ...(tokex instanceof InProcessTokex
      ? { ownIssuer: tokex.tokex.settings.issuer, builtInIssuers: [] }
      : { ownIssuer: `http://localhost:${port}`, builtInIssuers: [devIssuerConfig({ port })] }),
  });
  const keys = new Map<string, IssuerKeys>();
  for (const config of policy.issuers) {
    if (config.name === 'dev') continue;
    keys.set(config.name, staticIssuerKeys((await fetchJson(await jwksUriOf(config))) as Parameters<typeof staticIssuerKeys>[0]));
  }
  const keysFor = (config: IssuerConfig) => keys.get(config.name) ?? staticIssuerKeys({ keys: [] });
  let compared = 0;

  const exchange = tokex.exchange.bind(tokex) as LocalTokex['exchange'];
  (tokex as { exchange: LocalTokex['exchange'] }).exchange = async (params, init = {}) => {
    const res = await exchange(params, init);
    const single = (name: string) => (typeof params[name] === 'string' ? (params[name] as string) : undefined);
    const explainable =
      (init.contentType === undefined || init.contentType === 'application/x-www-form-urlencoded') &&
      Object.entries(params).every(([k, v]) => EXPLAINABLE.has(k) && typeof v === 'string') &&
      single('grant_type') === TOKEN_EXCHANGE &&
      [JWT_TYPE, ACCESS_TOKEN_TYPE].includes(single('subject_token_type') ?? '') &&
      (single('subject_token') ?? '') !== '' &&
      (params.actor_token === undefined
        ? params.actor_token_type === undefined
        : [JWT_TYPE, ACCESS_TOKEN_TYPE].includes(single('actor_token_type') ?? '') && single('actor_token') !== '');
    if (!explainable) return res;
    const record = await tokex.auditFor(res.headers.get('x-correlation-id')!);
    if (OUTSIDE_THE_DECISION.has(record.reason)) return res;
    const request = { resource: single('resource'), audience: single('audience'), scope: single('scope'), actorToken: single('actor_token') };
    const server = {
      status: res.status,
      reason: record.reason,
      rule: res.status === 200 ? record.rule : undefined,
      scopes: res.status === 200 ? String(res.body.scope).split(' ') : undefined,
    };
    const runs = [{ keysFor }, ...(NEEDS_KEYS(record.reason, record.detail) ? [] : [{ keysFor: undefined }])];
    for (const { keysFor: withKeys } of runs) {
      const { answer } = await explain({ policy, subject: { token: single('subject_token')! }, request, keysFor: withKeys });
      const said = { status: answer.status, reason: answer.reason, rule: answer.rule, scopes: answer.scopes };
      expect(said, `policy explain ${withKeys ? 'with' : 'without'} keys disagrees with the server (${record.detail ?? 'granted'})`).toEqual(server);
    }
    compared++;
    return res;
  };
  return { compared: () => compared };
}

async function jwksUriOf(config: IssuerConfig): Promise<string> {
  if (config.jwksUri) return config.jwksUri;
  const discovery = (await fetchJson(config.discoveryUrl.replace('{tenantid}', 'common'))) as { jwks_uri: string };
  return discovery.jwks_uri;
}
