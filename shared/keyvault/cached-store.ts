import { BoundedCache } from '../cache/bounded-cache.js';
import type { SecretStore, SecretValue } from './secret-store.js';

/** Secret values are kept at most this long (DESIGN.md "Grants"; Key Vault's own guidance is to cache). */
export const SECRET_CACHE_MS = 5 * 60_000;
/** Distinct secret versions kept at once; the policy names few, so this only bounds a misbehaving caller. */
export const SECRET_CACHE_ENTRIES = 1_000;

/**
 * Caches found secrets for at most 5 minutes (less when the secret expires sooner) and lets
 * concurrent misses for one name share one Key Vault read. Absence and failures are not cached.
 */
export class CachedSecretStore implements SecretStore {
  readonly #cache: BoundedCache<string, SecretValue | undefined>;

  constructor(
    private readonly inner: SecretStore,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.#cache = new BoundedCache({ maxEntries: SECRET_CACHE_ENTRIES, now });
  }

  async get(name: string, options: { version?: string; signal?: AbortSignal } = {}): Promise<SecretValue | undefined> {
    // Key Vault names are case-insensitive: `Team-DB` and `team-db` are one secret, cached once.
    return this.#cache.load(`${name.toLowerCase()}/${options.version ?? ''}`, async () => {
      const secret = await this.inner.get(name, options);
      const until = secret ? Math.min(this.now() + SECRET_CACHE_MS, secret.expiresOn?.getTime() ?? Infinity) : undefined;
      return { value: secret, until };
    });
  }
}
