import type { JWTPayload } from 'jose';
import { TokexError } from '../errors.js';
import { check, type Trace } from '../trace.js';
import type { Caller } from './caller.js';
import type { IssuerConfig } from './issuer-config.js';
import type { CallerValidator } from './validate.js';

/** The longest delegation chain tokex issues or accepts: the actor and up to four before it. */
export const MAX_ACT_DEPTH = 5;

/** RFC 8693 §4.1 `act`: who acts for the subject; a nested `act` names who acted before. */
export interface ActClaim {
  /** Always set for the actor itself; links further down carry it when their token did. */
  readonly iss?: string;
  readonly sub: string;
  readonly act?: ActClaim;
}

const quote = (value: unknown) => JSON.stringify(value)?.slice(0, 100) ?? 'undefined';
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * RFC 8693 §4.4: a subject token's `may_act` names who may act for it. When present, its `sub`
 * must equal the actor token's `sub` as is, and its `iss`, when present, the actor token's `iss`.
 */
export function checkMayAct(subject: JWTPayload, actor: JWTPayload): void {
  const mayAct = subject.may_act;
  if (mayAct === undefined) return;
  if (!isObject(mayAct)) throw new TokexError('actor_not_allowed', 'actor: the subject\'s "may_act" is not an object');
  if (typeof mayAct.sub !== 'string') throw new TokexError('actor_not_allowed', 'actor: the subject\'s "may_act" has no string "sub"');
  if (mayAct.sub !== actor.sub) {
    throw new TokexError('actor_not_allowed', `actor: "sub" is ${quote(actor.sub)}, the subject's "may_act" allows ${quote(mayAct.sub)}`);
  }
  if (mayAct.iss !== undefined && mayAct.iss !== actor.iss) {
    throw new TokexError('actor_not_allowed', `actor: "iss" is ${quote(actor.iss)}, the subject's "may_act" allows ${quote(mayAct.iss)}`);
  }
}

/**
 * The `act` claim of a token minted for a delegation: the actor's `iss` and its minted-style `sub`
 * (the `oid` for Entra actors, `<issuer name>:<sub>` otherwise), with the chain the actor token
 * itself carried nested inside (only `iss`, `sub` and `act` of each link are kept). A chain deeper
 * than MAX_ACT_DEPTH, or a link that is not an object with a string `sub`, is `actor_not_allowed`.
 */
export function actClaim(actor: Caller, issuerKind: IssuerConfig['kind']): ActClaim {
  const sub = issuerKind === 'entra' && actor.objectId !== undefined ? actor.objectId : `${actor.issuerName}:${actor.subject ?? ''}`;
  const before = actor.claims.act === undefined ? undefined : priorChain(actor.claims.act, 2);
  return { iss: actor.issuer, sub, ...(before && { act: before }) };
}

function priorChain(link: unknown, depth: number): ActClaim {
  if (depth > MAX_ACT_DEPTH) throw new TokexError('actor_not_allowed', `actor: the delegation chain is deeper than ${MAX_ACT_DEPTH}`);
  if (!isObject(link) || typeof link.sub !== 'string' || (link.iss !== undefined && typeof link.iss !== 'string')) {
    throw new TokexError('actor_not_allowed', `actor: "act" at depth ${depth} is not an object with a string "sub"`);
  }
  const before = link.act === undefined ? undefined : priorChain(link.act, depth + 1);
  return { ...(typeof link.iss === 'string' && { iss: link.iss }), sub: link.sub, ...(before && { act: before }) };
}

/** A verified actor and the `act` claim a minted token will carry for it. */
export interface Delegation {
  readonly actor: Caller;
  readonly act: ActClaim;
}

/**
 * The actor token of a delegation request (RFC 8693 §1.1), validated exactly like a subject token
 * (same issuers, same checks; the server and `tokex policy explain` both call this). A refusal keeps
 * its reason and says "actor token" in its detail; the trace learns the actor once it verified.
 * Then the subject's `may_act` and the depth of the delegation chain.
 */
export async function validateActor(
  validator: CallerValidator,
  token: string,
  subject: Caller,
  kindOf: (issuerName: string) => IssuerConfig['kind'],
  options: { readonly trace?: Trace | undefined; readonly verifySignature?: boolean } = {},
): Promise<Delegation> {
  const { trace } = options;
  const actorTrace: Trace = {
    step: (step) => trace?.step?.({ ...step, check: `actor ${step.check}` }),
    caller: (actor) => trace?.actor?.(actor),
  };
  let actor: Caller;
  try {
    actor = await validator.validate(token, { trace: actorTrace, ...(options.verifySignature !== undefined && { verifySignature: options.verifySignature }) });
  } catch (err) {
    if (!(err instanceof TokexError)) throw err;
    throw new TokexError(err.reason, `actor token: ${err.detail}`, { cause: err, ...(err.retryAfter !== undefined && { retryAfter: err.retryAfter }) });
  }
  check(
    trace,
    'may_act',
    () => ({
      actual: `actor sub ${quote(actor.claims.sub)}`,
      expected: subject.claims.may_act === undefined ? 'any (no may_act)' : quote(subject.claims.may_act),
    }),
    () => checkMayAct(subject.claims, actor.claims),
  );
  const act = check(
    trace,
    'act chain',
    () => ({ expected: `at most ${MAX_ACT_DEPTH} deep` }),
    () => actClaim(actor, kindOf(actor.issuerName)),
  );
  return { actor, act };
}
