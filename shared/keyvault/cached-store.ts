import type { SecretStore, SecretValue } from './secret-store.js';

/** Secret values are kept at most this long (DESIGN.md "Grants"; Key Vault's own guidance is to cache). */
export const SECRET_CACHE_MS = 5 * 60_000;

/**
 * Caches found secrets for at most 5 minutes (less when the secret expires sooner) and lets
 * concurrent misses for one name share one Key Vault read. Absence and failures are not cached.
 */
export class CachedSecretStore implements SecretStore {
  readonly #cache = new Map<string, { secret: SecretValue; until: number }>();
  readonly #inFlight = new Map<string, Promise<SecretValue | undefined>>();

  constructor(
    private readonly inner: SecretStore,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async get(name: string, options: { version?: string; signal?: AbortSignal } = {}): Promise<SecretValue | undefined> {
    // Key Vault names are case-insensitive: `Team-DB` and `team-db` are one secret, cached once.
    const key = `${name.toLowerCase()}/${options.version ?? ''}`;
    const cached = this.#cache.get(key);
    if (cached && cached.until > this.now()) return cached.secret;
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.inner.get(name, options).then((secret) => {
        if (secret) {
          const expires = secret.expiresOn?.getTime() ?? Infinity;
          this.#cache.set(key, { secret, until: Math.min(this.now() + SECRET_CACHE_MS, expires) });
        } else {
          this.#cache.delete(key);
        }
        return secret;
      });
      this.#inFlight.set(key, pending);
      void pending.finally(() => this.#inFlight.delete(key)).catch(() => {});
    }
    return pending;
  }
}
