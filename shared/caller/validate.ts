import { errors, jwtVerify, type JWTPayload } from 'jose';
import { TokexError, type Reason } from '../errors.js';
import type { IssuerConfig } from '../policy/policy.js';
import { describeCaller, type Caller } from './caller.js';
import { decodeCompactJws } from './decode.js';
import type { IssuerKeys } from './issuer-keys.js';

export const CLOCK_TOLERANCE_SECONDS = 60;
/** Header parameters that would let the token choose its own key: never followed (RFC 8725 §3.10). */
const KEY_CARRYING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

export interface TrustedIssuer {
  readonly config: IssuerConfig;
  readonly keys: IssuerKeys;
}

/**
 * Extra rules for one kind of issuer (the Entra ones), applied around the generic checks:
 * `resolveIssuer` finds the issuer entry for an unverified `iss` (templates), `check` runs on
 * verified claims.
 */
export interface IssuerProfile {
  resolveIssuer?(iss: string, payload: Record<string, unknown>, issuers: readonly TrustedIssuer[]): TrustedIssuer | undefined;
  checkHeader?(header: Record<string, unknown>, issuer: TrustedIssuer): void;
  check?(claims: JWTPayload, header: Record<string, unknown>, issuer: TrustedIssuer): void;
}

/** A refusal of the subject token; `caller` is set once the signature verified, so the audit names who it was. */
export class CallerRefused extends TokexError {
  constructor(
    reason: Reason,
    detail: string,
    readonly caller: Caller | undefined,
  ) {
    super(reason, detail);
    this.name = 'CallerRefused';
  }
}

export interface CallerValidatorOptions {
  readonly now?: () => number;
  readonly profiles?: Partial<Record<IssuerConfig['kind'], IssuerProfile>>;
}

/** Validates subject tokens per DESIGN.md "Caller validation" (RFC 8725) against the trusted issuers. */
export class CallerValidator {
  readonly #byIssuer = new Map<string, TrustedIssuer>();
  readonly #issuers: readonly TrustedIssuer[];
  readonly #now: () => number;
  readonly #profiles: Partial<Record<IssuerConfig['kind'], IssuerProfile>>;

  constructor(issuers: readonly TrustedIssuer[], options: CallerValidatorOptions = {}) {
    this.#issuers = issuers;
    for (const trusted of issuers) this.#byIssuer.set(trusted.config.issuer, trusted);
    this.#now = options.now ?? (() => Date.now());
    this.#profiles = options.profiles ?? {};
  }

  async validate(token: string): Promise<Caller> {
    // 1. Shape: a compact JWS of sane size whose header and claims are JSON objects.
    const { header, payload } = decodeCompactJws(token);

    // 2. Header: nothing that picks its own key, no extensions we do not understand.
    for (const name of KEY_CARRYING_HEADERS) {
      if (name in header) throw new CallerRefused('forbidden_header', `header carries "${name}"`, undefined);
    }
    if ('crit' in header) throw new CallerRefused('forbidden_header', 'header carries "crit" (no extension is supported)', undefined);
    if ('kid' in header && typeof header.kid !== 'string') throw new CallerRefused('malformed_token', 'header "kid" is not a string', undefined);

    // 3. Issuer: chosen by the unverified `iss`, then everything is checked against that entry alone.
    if (typeof payload.iss !== 'string') throw new CallerRefused('missing_claim', 'no "iss" claim', undefined);
    const trusted = this.#resolveIssuer(payload.iss, payload);
    if (!trusted) throw new CallerRefused('unknown_issuer', 'issuer is not trusted by the policy', undefined);
    const { config } = trusted;
    const profile = this.#profiles[config.kind];

    if (typeof header.alg !== 'string' || !config.algorithms.includes(header.alg)) {
      throw new CallerRefused('algorithm_not_allowed', `alg "${String(header.alg).slice(0, 20)}" is not allowed for issuer "${config.name}"`, undefined);
    }
    if (header.typ !== undefined && !config.types.includes(normalizeTyp(header.typ))) {
      throw new CallerRefused('token_type_not_allowed', `typ "${String(header.typ).slice(0, 40)}" is not allowed for issuer "${config.name}"`, undefined);
    }
    profile?.checkHeader?.(header, trusted);

    // 4. Signature with the issuer's own keys, then the registered claims.
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, trusted.keys.getKey, {
        algorithms: [...config.algorithms],
        issuer: payload.iss,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp'],
        currentDate: new Date(this.#now()),
      }));
    } catch (err) {
      throw refusalFrom(err, config);
    }
    const caller = describeCaller(config.name, claims);
    const refuse = (reason: Reason, detail: string): never => {
      throw new CallerRefused(reason, detail, caller);
    };

    // 5. Audience: one string, exactly one of the configured ones (Entra never issues arrays).
    if (typeof claims.aud !== 'string') refuse(claims.aud === undefined ? 'missing_claim' : 'wrong_audience', claims.aud === undefined ? 'no "aud" claim' : '"aud" is not a single string');
    if (!config.audiences.includes(claims.aud as string)) refuse('wrong_audience', `"aud" is not an audience of issuer "${config.name}"`);
    const nowSeconds = this.#now() / 1000;
    if (typeof claims.iat === 'number' && claims.iat > nowSeconds + CLOCK_TOLERANCE_SECONDS) refuse('not_yet_valid', '"iat" is in the future');
    if (claims.oid === undefined && typeof claims.sub !== 'string') refuse('missing_claim', 'neither "oid" nor "sub"');

    try {
      profile?.check?.(claims, header, trusted);
    } catch (err) {
      if (err instanceof TokexError) refuse(err.reason, err.detail);
      throw err;
    }
    return caller;
  }

  #resolveIssuer(iss: string, payload: Record<string, unknown>): TrustedIssuer | undefined {
    const exact = this.#byIssuer.get(iss);
    if (exact) return exact;
    for (const profile of Object.values(this.#profiles)) {
      const found = profile?.resolveIssuer?.(iss, payload, this.#issuers);
      if (found) return found;
    }
    return undefined;
  }
}

/** RFC 8725 §3.11 / RFC 9068: `typ` compares case-insensitively, `application/` optional. */
function normalizeTyp(typ: unknown): string {
  return String(typ).toUpperCase().replace(/^APPLICATION\//, '');
}

function refusalFrom(err: unknown, config: IssuerConfig): TokexError {
  if (err instanceof TokexError) return err;
  if (err instanceof errors.JWSSignatureVerificationFailed) return new CallerRefused('invalid_signature', 'signature does not verify', undefined);
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new CallerRefused('unknown_key', `no key of issuer "${config.name}" matches the header`, undefined);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new CallerRefused('algorithm_not_allowed', 'alg not allowed', undefined);
  if (err instanceof errors.JWTExpired) {
    return new CallerRefused('expired', '"exp" is past (beyond the clock tolerance)', describeCaller(config.name, err.payload));
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const caller = describeCaller(config.name, err.payload);
    if (err.reason === 'missing') return new CallerRefused('missing_claim', `no "${err.claim}" claim`, caller);
    if (err.reason === 'invalid') return new CallerRefused('malformed_token', `"${err.claim}" claim is malformed`, caller);
    if (err.claim === 'nbf') return new CallerRefused('not_yet_valid', '"nbf" is in the future (beyond the clock tolerance)', caller);
    if (err.claim === 'iss') return new CallerRefused('wrong_issuer', '"iss" does not match', caller);
    return new CallerRefused('malformed_token', `"${err.claim}" claim check failed`, caller);
  }
  if (err instanceof errors.JOSEError) return new CallerRefused('malformed_token', err.code, undefined);
  // A key of the wrong type for the algorithm (e.g. an EC key for RS256) surfaces as a TypeError.
  if (err instanceof TypeError) return new CallerRefused('invalid_signature', 'key does not fit the algorithm', undefined);
  return new TokexError('internal_error', `caller validation failed unexpectedly: ${(err as Error).name}`, { cause: err });
}
