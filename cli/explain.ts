import type { JWTPayload } from 'jose';
import { validateActor } from '../shared/caller/actor.js';
import type { Caller } from '../shared/caller/caller.js';
import type { IssuerKeys } from '../shared/caller/issuer-keys.js';
import { type DenyList, EMPTY_DENY_LIST } from '../shared/deny/deny-list.js';
import { answerFor, type Reason, TokexError } from '../shared/errors.js';
import { parseTokenRequest } from '../shared/exchange/request.js';
import { decideToken, issuerKindOf } from '../shared/policy/decide.js';
import type { IssuerConfig, Policy } from '../shared/policy/policy.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_JWT } from '../shared/protocol.js';
import { buildValidator } from '../shared/startup.js';
import { check, type Step } from '../shared/trace.js';

/** A request to POST /token, as `tokex policy explain` takes it. */
export interface ExplainRequest {
  readonly resource?: string | undefined;
  readonly audience?: string | undefined;
  readonly scope?: string | undefined;
  /** Delegation: the actor token (its signature checked like the subject token's). */
  readonly actorToken?: string | undefined;
}

export interface ExplainInput {
  readonly policy: Policy;
  /** The caller's token, or its claims alone (then the header and signature checks are skipped). */
  readonly subject: { readonly token: string } | { readonly claims: JWTPayload };
  readonly request: ExplainRequest;
  /** The keys to check signatures with; without them the signature is not checked (every other check is). */
  readonly keysFor?: ((config: IssuerConfig) => IssuerKeys) | undefined;
  readonly denyList?: DenyList;
  readonly now?: () => number;
}

/** The answer POST /token would give. */
export interface ExplainAnswer {
  readonly status: number;
  readonly error?: string;
  readonly reason: Reason;
  readonly detail?: string;
  readonly rule?: string;
  readonly grant?: { readonly kind: 'entra' | 'minted'; readonly target: string; readonly identity?: string; readonly onBehalfOf?: boolean };
  readonly scopes?: readonly string[];
  /** A minted token's longest lifetime (grant lifetime cut to the subject token's exp); an Entra token's is Entra's. */
  readonly lifetimeSeconds?: number;
}

export interface Explanation {
  readonly steps: readonly Step[];
  readonly signatureChecked: boolean;
  readonly answer: ExplainAnswer;
}

/** Keys that find nothing: explain without `--jwks` never reaches them (the signature is skipped). */
const NO_KEYS: IssuerKeys = {
  getKey: () => Promise.reject(new TokexError('unknown_key', 'no keys given to explain')),
  jwks: () => undefined,
  generation: () => undefined,
};

/**
 * The server's own decision for one request, step by step: the request is parsed by the server's
 * parser, the token checked by the server's validator (the signature only when keys are given),
 * the policy applied by the server's decision function. Only issuing the token is left out.
 */
export async function explain(input: ExplainInput): Promise<Explanation> {
  const steps: Step[] = [];
  const trace = { step: (step: Step) => void steps.push(step) };
  const now = input.now ?? (() => Date.now());
  const validator = buildValidator(input.policy, input.keysFor ?? (() => NO_KEYS), now);
  const signatureChecked = input.keysFor !== undefined && 'token' in input.subject;
  try {
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: 'token' in input.subject ? input.subject.token : 'claims',
      subject_token_type: TOKEN_TYPE_JWT,
    });
    for (const name of ['resource', 'audience', 'scope'] as const) if (input.request[name] !== undefined) form.set(name, input.request[name]);
    if (input.request.actorToken !== undefined) {
      form.set('actor_token', input.request.actorToken);
      form.set('actor_token_type', TOKEN_TYPE_JWT);
    }
    const notes = { request: () => {}, subjectToken: () => {}, actorToken: () => {} };
    const request = check(
      trace,
      'request',
      () => ({ actual: describeRequest(input.request) }),
      () => parseTokenRequest('application/x-www-form-urlencoded', form.toString(), notes),
    );
    const caller: Caller =
      'token' in input.subject
        ? await validator.validate(input.subject.token, { trace, verifySignature: input.keysFor !== undefined })
        : await validator.validateClaims(input.subject.claims, { trace });
    const delegation =
      request.actorToken === undefined
        ? undefined
        : await validateActor(validator, request.actorToken, caller, (name) => issuerKindOf(input.policy, name), {
            trace,
            verifySignature: input.keysFor !== undefined,
          });
    const decision = decideToken(input.policy, input.denyList ?? EMPTY_DENY_LIST, caller, request, now() / 1000, trace, delegation?.actor);
    const { grant } = decision;
    return {
      steps,
      signatureChecked,
      answer: {
        status: 200,
        reason: 'ok',
        rule: decision.rule.name,
        grant: {
          kind: grant.kind,
          target: grant.target,
          ...(grant.kind === 'entra' && { identity: grant.identity, ...(grant.onBehalfOf && { onBehalfOf: true }) }),
        },
        scopes: decision.scopes,
        ...(grant.kind === 'minted' && { lifetimeSeconds: decision.lifetimeSeconds }),
      },
    };
  } catch (err) {
    const failure = err instanceof TokexError ? err : new TokexError('internal_error', `unexpected ${(err as Error)?.name ?? 'error'}`);
    const answer = answerFor(failure.reason, 'token');
    return { steps, signatureChecked, answer: { status: answer.status, error: answer.error, reason: failure.reason, detail: failure.detail } };
  }
}

function describeRequest(request: ExplainRequest): string {
  const parts = Object.entries(request)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`);
  return parts.join(', ') || 'no target';
}

/** The explanation for a person: one line per check, then the answer. */
export function formatExplanation(explanation: Explanation): string {
  const width = Math.max(...explanation.steps.map((s) => s.check.length), 5);
  const lines = explanation.steps.map((s) => {
    const values = s.outcome === 'SKIP' ? (s.detail ?? '') : [s.actual, s.expected && `expected ${s.expected}`].filter(Boolean).join('; ');
    const head = `${s.outcome.padEnd(4)}  ${s.check.padEnd(width)}  ${values}`.trimEnd();
    return s.outcome !== 'FAIL' || !s.detail ? head : `${head}\n${' '.repeat(width + 8)}→ ${s.detail}`;
  });
  const a = explanation.answer;
  const answer =
    a.status === 200
      ? `answer: 200, rule ${a.rule}, ${a.grant?.kind === 'entra' ? `Entra token as identity ${a.grant.identity}${a.grant.onBehalfOf ? ' on behalf of the user' : ''}` : 'minted token'} for ${a.grant?.target}, scope "${a.scopes?.join(' ')}"${a.lifetimeSeconds !== undefined ? `, lifetime ${a.lifetimeSeconds} s` : ''}`
      : `answer: ${a.status} ${a.error}, reason ${a.reason}: ${a.detail}`;
  const note = explanation.signatureChecked ? '' : '\n(signature not checked: give --jwks FILE|URL to check it)';
  return `${lines.join('\n')}\n${answer}${note}`;
}
