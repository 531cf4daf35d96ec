import type { JWTPayload } from 'jose';
import { quote, TokexError } from '../errors.js';
import { GUID } from '../patterns.js';
import { check, checkAsync, skip, type Trace } from '../trace.js';
import { type Caller, describeCaller } from './caller.js';
import { CLOCK_TOLERANCE_SECONDS, checkAudience, checkTimeClaims, isoSeconds } from './claims.js';
import { decodeJsonSegment, MAX_TOKEN_BYTES, parseCompactJws } from './decode.js';
import type { IssuerConfig } from './issuer-config.js';
import type { IssuerKeys } from './issuer-keys.js';
import { checkAlgorithm, checkJwsHeader, verifySignature } from './jws.js';
import { VERIFIED_TOKEN_CACHE_ENTRIES, type VerifiedToken, VerifiedTokens } from './verified-tokens.js';

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

export interface ValidateOptions {
  /** false only for `tokex policy explain` without keys: every other check still runs. */
  readonly verifySignature?: boolean;
  /** Told each check and, once known, the caller (so a later refusal is still audited with it). */
  readonly trace?: Trace;
}

/**
 * Validates subject tokens per DESIGN.md "Caller validation" (RFC 8725) against the trusted
 * issuers. The server and `tokex policy explain` run this same code; explain may skip the signature.
 */
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

  async validate(token: string, options: ValidateOptions = {}): Promise<Caller> {
    const { trace } = options;
    // The verified-token cache serves the server's path only: explain reports every step afresh.
    const cacheable = options.verifySignature !== false && trace?.step === undefined;
    const key = !cacheable || token.length > MAX_TOKEN_BYTES ? undefined : this.#verified.keyOf(token);
    const known = key === undefined ? undefined : this.#verified.get(key);
    if (known !== undefined) {
      this.stats.remembered++;
      trace?.caller?.(known.caller);
      // Signature, issuer, audience and the issuer kind's rules held when it was remembered; time moves on.
      checkTimeClaims(known.caller.claims, this.#now() / 1000);
      return known.caller;
    }
    // 1. Shape and header: exactly a compact JWS, nothing that picks its own key.
    const { header, payloadSegment } = check(
      trace,
      'format',
      () => ({ actual: `${token.length} bytes`, expected: `compact JWS, at most ${MAX_TOKEN_BYTES} bytes` }),
      () => parseCompactJws(token),
    );
    check(
      trace,
      'header',
      () => ({ actual: quote(Object.keys(header)), expected: 'no jku, x5u, jwk, x5c or crit' }),
      () => checkJwsHeader(header),
    );
    const claims = check(
      trace,
      'payload',
      () => ({ expected: 'a JSON object' }),
      () => decodeJsonSegment(payloadSegment, 'payload'),
    ) as JWTPayload;
    const verified = await this.#validate(header, claims, token, options);
    if (key !== undefined) this.#verified.remember(key, verified);
    return verified.caller;
  }

  /** `tokex policy explain --claims`: every check that needs no token (no header, no signature). */
  async validateClaims(claims: JWTPayload, options: { trace?: Trace } = {}): Promise<Caller> {
    skip(options.trace, 'format', 'claims given, not a token');
    return (await this.#validate(undefined, claims, undefined, { ...options, verifySignature: false })).caller;
  }

  async #validate(
    header: Record<string, unknown> | undefined,
    claims: JWTPayload,
    token: string | undefined,
    options: ValidateOptions,
  ): Promise<VerifiedToken> {
    const { trace } = options;
    // 2. Issuer: chosen by the unverified `iss`; from here on only that entry's rules and keys count.
    const trusted = check(
      trace,
      'issuer',
      () => ({ actual: quote(claims.iss), expected: `one of ${this.#issuers.map((t) => `${t.config.issuer} (${t.config.name})`).join(', ') || 'none'}` }),
      () => {
        if (typeof claims.iss !== 'string') throw new TokexError('missing_claim', 'no "iss" claim');
        const found = this.#resolveIssuer(claims.iss);
        if (!found)
          throw new TokexError(
            'unknown_issuer',
            `issuer ${quote(claims.iss)} is not trusted (trusted: ${this.#issuers.map((t) => t.config.name).join(', ') || 'none'})`,
          );
        return found;
      },
    );
    const { config } = trusted;
    const profile = this.#profiles[config.kind];
    if (header === undefined) {
      skip(trace, 'alg', 'no token header');
    } else {
      check(
        trace,
        'alg',
        () => ({ actual: quote(header.alg), expected: `one of ${config.algorithms.join(', ')}` }),
        () => checkAlgorithm(header, config.algorithms),
      );
      check(
        trace,
        'typ',
        () => ({ actual: header.typ === undefined ? 'absent' : quote(header.typ), expected: `absent or one of ${config.types.join(', ')}` }),
        () => {
          if (header.typ !== undefined && !config.types.includes(normalizeTyp(header.typ))) {
            throw new TokexError(
              'token_type_not_allowed',
              `typ ${quote(header.typ)} is not allowed for issuer ${config.name} (allowed: ${config.types.join(', ')})`,
            );
          }
        },
      );
      if (profile?.checkHeader)
        check(
          trace,
          `${config.kind} header`,
          () => ({ actual: `kid ${quote(header.kid)}` }),
          () => profile.checkHeader!(header, trusted),
        );
    }

    // 3. Signature, with the issuer's own keys.
    let generation: ReturnType<IssuerKeys['generation']> | undefined;
    if (options.verifySignature === false || token === undefined || header === undefined) {
      skip(trace, 'signature', 'not checked (give --jwks to check it)');
    } else {
      await checkAsync(
        trace,
        'signature',
        () => ({ actual: `kid ${quote(header.kid)}`, expected: `a key of ${config.name}` }),
        async () => {
          this.stats.signatureChecks++;
          try {
            await verifySignature(token, trusted.keys.getKey, config.algorithms, header);
          } catch (err) {
            // Name the key and the issuer whose keys were tried, for the audit detail.
            if (!(err instanceof TokexError) || (err.reason !== 'unknown_key' && err.reason !== 'invalid_signature')) throw err;
            throw new TokexError(err.reason, `${err.detail} (kid ${quote(header.kid)}, keys of issuer ${config.name})`, { cause: err });
          }
          // The key set that verified it, read before anything else can await and let it change.
          generation = trusted.keys.generation();
        },
      );
    }
    const caller = describeCaller(config.name, config.kind, claims);
    trace?.caller?.(caller);

    // 4. Claims: time, audience, identity, then the issuer kind's own rules.
    const nowSeconds = this.#now() / 1000;
    check(
      trace,
      'time',
      () => ({
        actual: timeSummary(claims),
        expected: `exp in the future, nbf and iat not after now ${isoSeconds(Math.floor(nowSeconds))} (tolerance ${CLOCK_TOLERANCE_SECONDS} s)`,
      }),
      () => checkTimeClaims(claims, nowSeconds),
    );
    check(
      trace,
      'aud',
      () => ({ actual: quote(claims.aud), expected: `one of ${config.audiences.join(', ')}` }),
      () => checkAudience(claims, config.audiences),
    );
    check(
      trace,
      'subject',
      () => ({
        actual: `${claims.oid !== undefined ? `oid ${quote(claims.oid)}` : `sub ${quote(claims.sub)}`}, kind ${caller.kind}`,
        expected: config.kind === 'entra' ? 'oid or sub' : 'sub',
      }),
      () => checkIdentityClaims(claims, config.kind),
    );
    if (profile?.check)
      check(
        trace,
        `${config.kind} rules`,
        () => ({ actual: `tid ${quote(claims.tid)}` }),
        () => profile.check!(claims, header ?? {}, trusted),
      );
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

function timeSummary(claims: JWTPayload): string {
  return (
    (['exp', 'nbf', 'iat'] as const)
      .filter((name) => claims[name] !== undefined)
      .map((name) => `${name} ${typeof claims[name] === 'number' ? isoSeconds(claims[name]) : quote(claims[name])}`)
      .join(', ') || 'none'
  );
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
  return String(typ)
    .toUpperCase()
    .replace(/^APPLICATION\//, '');
}
