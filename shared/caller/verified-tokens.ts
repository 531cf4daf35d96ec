import { createHash } from 'node:crypto';
import { BoundedCache } from '../cache/bounded-cache.js';
import type { Caller } from './caller.js';
import type { KeySetGeneration } from './issuer-keys.js';
import type { TrustedIssuer } from './validate.js';

/** Subject tokens remembered at once (LRU beyond). */
export const VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

/** A subject token that passed every check: who presented it, under which issuer entry and key set. */
export interface VerifiedToken {
  readonly caller: Caller;
  readonly trusted: TrustedIssuer;
  readonly generation: KeySetGeneration;
}

/**
 * Subject tokens that verified, remembered by the SHA-256 of the token (never the token itself)
 * so that a caller re-sending its token costs no signature check. An entry lasts until the earlier
 * of the token's `exp` and the time its issuer's key set goes stale (fetch + JWKS_MAX_AGE_MS), and
 * is dropped as soon as that issuer entry holds another key set (a rotation or a refetch): it never
 * outlives the key that verified it. Only successes are remembered; the validator re-checks the
 * time claims on every use, and a policy change builds a new validator, hence a new cache.
 */
export class VerifiedTokens {
  readonly #cache: BoundedCache<string, VerifiedToken>;

  constructor(
    readonly maxEntries: number,
    now: () => number,
  ) {
    this.#cache = new BoundedCache({ maxEntries, now });
  }

  /** The cache key of a token; undefined when the cache keeps nothing (no hashing then). */
  keyOf(token: string): string | undefined {
    return this.maxEntries === 0 ? undefined : createHash('sha256').update(token).digest('base64');
  }

  /** The token verified before, with a key set its issuer entry still holds; else undefined. */
  get(key: string): VerifiedToken | undefined {
    const entry = this.#cache.get(key);
    if (entry === undefined) return undefined;
    if (entry.trusted.keys.generation() !== entry.generation) {
      this.#cache.delete(key);
      return undefined;
    }
    return entry;
  }

  remember(key: string, verified: VerifiedToken): void {
    const exp = verified.caller.claims.exp;
    if (typeof exp !== 'number') return;
    // Later requests share these objects: none of them may change what an earlier one verified.
    for (const value of Object.values(verified.caller.claims)) if (typeof value === 'object' && value !== null) Object.freeze(value);
    Object.freeze(verified.caller.claims);
    Object.freeze(verified.caller);
    this.#cache.set(key, verified, Math.min(exp * 1000, verified.generation.freshUntil));
  }
}
