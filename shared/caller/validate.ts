import type { JWTPayload } from 'jose';
import { TokexError, type Reason } from '../errors.js';
import { GUID } from '../patterns.js';
import type { IssuerConfig } from './issuer-config.js';
import { describeCaller, type Caller } from './caller.js';
import { checkAudience, checkTimeClaims } from './claims.js';
import { decodeJsonSegment, MAX_TOKEN_BYTES, parseCompactJws } from './decode.js';
import type { IssuerKeys } from './issuer-keys.js';
import { checkAlgorithm, checkJwsHeader, verifySignature } from './jws.js';
import { VERIFIED_TOKEN_CACHE_ENTRIES, VerifiedTokens, type VerifiedToken } from './verified-tokens.js';

export interface TrustedIssuer {
  readonly config: IssuerConfig;
  readonly keys: IssuerKeys;
}

/**
 * Extra rules for one kind of issuer (Entra), around the generic ones: `resolveIssuer` finds the
 * entry for an `iss` that is not an exact match (templates), `checkHeader` runs before the
 * signature, `check` on the verified claims. They throw TokexErrors.
 */
export interface IssuerProfile {
  resolveIssuer?(iss: string, issuers: readonly TrustedIssuer[]): TrustedIssuer | undefined;
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
  /** Verified subject tokens remembered (default 10,000; 0 verifies every token afresh). */
  readonly verifiedTokenCacheEntries?: number;
}

/** What the validator did, for tests and the bench: signatures checked, tokens found already verified. */
export interface ValidatorStats {
  signatureChecks: number;
  remembered: number;
}

/** Validates subject tokens per DESIGN.md "Caller validation" (RFC 8725) against the trusted issuers. */
export class CallerValidator {
  readonly #byIssuer = new Map<string, TrustedIssuer>();
  readonly #issuers: readonly TrustedIssuer[];
  readonly #now: () => number;
  readonly #profiles: Partial<Record<IssuerConfig['kind'], IssuerProfile>>;
  readonly #verified: VerifiedTokens;
  readonly stats: ValidatorStats = { signatureChecks: 0, remembered: 0 };

  constructor(issuers: readonly TrustedIssuer[], options: CallerValidatorOptions = {}) {
    this.#issuers = issuers;
    for (const trusted of issuers) this.#byIssuer.set(trusted.config.issuer, trusted);
    this.#now = options.now ?? (() => Date.now());
    this.#profiles = options.profiles ?? {};
    this.#verified = new VerifiedTokens(options.verifiedTokenCacheEntries ?? VERIFIED_TOKEN_CACHE_ENTRIES, this.#now);
  }

  async validate(token: string): Promise<Caller> {
    let caller: Caller | undefined;
    try {
      const key = token.length > MAX_TOKEN_BYTES ? undefined : this.#verified.keyOf(token);
      const known = key === undefined ? undefined : this.#verified.get(key);
      if (known !== undefined) {
        this.stats.remembered++;
        caller = known.caller;
        // Signature, issuer, audience and the issuer kind's rules held when it was remembered; time moves on.
        checkTimeClaims(caller.claims, this.#now() / 1000);
        return caller;
      }
      const verified = await this.#validate(token, (c) => (caller = c));
      if (key !== undefined) this.#verified.remember(key, verified);
      return verified.caller;
    } catch (err) {
      if (err instanceof TokexError && !(err instanceof CallerRefused) && err.reason !== 'downstream_unavailable' && err.reason !== 'internal_error') {
        throw new CallerRefused(err.reason, err.detail, caller);
      }
      throw err;
    }
  }

  async #validate(token: string, verified: (caller: Caller) => void): Promise<VerifiedToken> {
    // 1. Shape and header: exactly a compact JWS, nothing that picks its own key.
    const { header, payloadSegment } = parseCompactJws(token);
    checkJwsHeader(header);
    const claims = decodeJsonSegment(payloadSegment, 'payload') as JWTPayload;

    // 2. Issuer: chosen by the unverified `iss`; from here on only that entry's rules and keys count.
    if (typeof claims.iss !== 'string') throw new TokexError('missing_claim', 'no "iss" claim');
    const trusted = this.#resolveIssuer(claims.iss);
    if (!trusted) throw new TokexError('unknown_issuer', 'issuer is not trusted by the policy');
    const { config } = trusted;
    const profile = this.#profiles[config.kind];
    checkAlgorithm(header, config.algorithms);
    if (header.typ !== undefined && !config.types.includes(normalizeTyp(header.typ))) {
      throw new TokexError('token_type_not_allowed', `typ ${JSON.stringify(header.typ).slice(0, 40)} is not allowed for issuer "${config.name}"`);
    }
    profile?.checkHeader?.(header, trusted);

    // 3. Signature, with the issuer's own keys.
    this.stats.signatureChecks++;
    await verifySignature(token, trusted.keys.getKey, config.algorithms, header);
    // The key set that verified it, read before anything else can await and let it change.
    const generation = trusted.keys.generation();
    const caller = describeCaller(config.name, config.kind, claims);
    verified(caller);

    // 4. Claims: time, audience, identity, then the issuer kind's own rules.
    checkTimeClaims(claims, this.#now() / 1000);
    checkAudience(claims, config.audiences);
    checkIdentityClaims(claims, config.kind);
    profile?.check?.(claims, header, trusted);
    return { caller, trusted, generation: generation ?? STALE };
  }

  #resolveIssuer(iss: string): TrustedIssuer | undefined {
    const exact = this.#byIssuer.get(iss);
    if (exact) return exact;
    for (const profile of Object.values(this.#profiles)) {
      const found = profile?.resolveIssuer?.(iss, this.#issuers);
      if (found) return found;
    }
    return undefined;
  }
}

/**
 * The claims that name the caller: `sub` and `oid`, when present, are non-empty strings, and an
 * Entra `oid` is a GUID. An Entra caller needs `oid` or `sub`; any other issuer's needs `sub`, since
 * minted tokens name it `<issuer name>:<sub>`.
 */
function checkIdentityClaims(claims: JWTPayload, kind: IssuerConfig['kind']): void {
  for (const name of ['sub', 'oid'] as const) {
    const value = claims[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new TokexError('malformed_token', `"${name}" is not a string`);
    if (value === '') throw new TokexError('missing_claim', `"${name}" is empty`);
  }
  if (kind === 'entra' && typeof claims.oid === 'string' && !GUID.test(claims.oid)) throw new TokexError('malformed_token', '"oid" is not a GUID');
  if (kind === 'entra' ? claims.oid === undefined && claims.sub === undefined : claims.sub === undefined) {
    throw new TokexError('missing_claim', kind === 'entra' ? 'neither "oid" nor "sub"' : 'no "sub" claim');
  }
}

/** A key set of unknown age: what it verified is not remembered. */
const STALE = { freshUntil: -Infinity } as const;

/** RFC 8725 §3.11 / RFC 9068: `typ` compares case-insensitively, `application/` optional. */
function normalizeTyp(typ: unknown): string {
  return String(typ).toUpperCase().replace(/^APPLICATION\//, '');
}
