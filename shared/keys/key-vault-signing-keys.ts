import { BoundedCache } from '../cache/bounded-cache.js';
import { ConfigError, TokexError } from '../errors.js';
import type { KeyVaultSecretStore } from '../keyvault/key-vault-store.js';
import { log } from '../log.js';
import { type SigningKey, type SigningKeys, signingKeyFrom } from './signing-key.js';

/** How often the secret is read again, so a new version becomes current without a restart. */
export const SIGNING_KEY_REFRESH_MS = 5 * 60_000;

/**
 * The minted-token signing key held in a Key Vault secret (`TOKEX_SIGNING_KEY=kv:<name>`): the
 * newest enabled version signs; an older version stays in the JWKS while a token it signed may
 * still be alive, i.e. until its successor has existed for the longest minted lifetime plus one
 * refresh interval (tokex may have gone on signing with it until the next refresh).
 */
export class KeyVaultSigningKeys implements SigningKeys {
  #current!: SigningKey;
  #previous: SigningKey[] = [];
  /** Keys this process signed with, and when it stopped. */
  readonly #retired = new Map<string, { key: SigningKey; at: number }>();
  /** Parsed key versions: a version's value never changes, so it is kept until evicted. */
  readonly #parsed = new BoundedCache<string, SigningKey>({ maxEntries: 100 });
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: KeyVaultSecretStore,
    private readonly secretName: string,
    private readonly maxLifetimeMs: number,
    private readonly now: () => number,
  ) {}

  get current(): SigningKey {
    return this.#current;
  }

  get previous(): readonly SigningKey[] {
    return this.#previous;
  }

  /** Loads at startup; any failure stops startup with a message naming TOKEX_SIGNING_KEY. */
  static async load(
    store: KeyVaultSecretStore,
    secretName: string,
    maxLifetimeSeconds: number,
    now: () => number = () => Date.now(),
  ): Promise<KeyVaultSigningKeys> {
    const ring = new KeyVaultSigningKeys(store, secretName, maxLifetimeSeconds * 1000, now);
    try {
      await ring.refresh();
    } catch (err) {
      const why = err instanceof TokexError || err instanceof ConfigError ? (err instanceof TokexError ? err.detail : err.message) : (err as Error).name;
      throw new ConfigError(`TOKEX_SIGNING_KEY: cannot load Key Vault secret "${secretName}" (${why})`, { cause: err });
    }
    return ring;
  }

  /** Re-reads the secret's versions; on failure the keys in use stay as they are. */
  startRefreshing(): void {
    this.#timer ??= setInterval(() => {
      this.refresh().catch((err: unknown) =>
        log.warn('signing key refresh failed; keeping the current keys', { secret: this.secretName, error: (err as Error).message }),
      );
    }, SIGNING_KEY_REFRESH_MS);
    this.#timer.unref();
  }

  async refresh(): Promise<void> {
    const versions = (await this.store.versions(this.secretName)).filter((v) => v.enabled);
    if (versions.length === 0) throw new ConfigError(`the secret has no enabled version`);
    const now = this.now();
    const current = await this.#key(versions[0]!.version);
    const previous: SigningKey[] = [];
    for (let i = 1; i < versions.length; i++) {
      const successorCreated = versions[i - 1]!.createdOn?.getTime() ?? now;
      if (now >= successorCreated + this.maxLifetimeMs + SIGNING_KEY_REFRESH_MS) break;
      try {
        previous.push(await this.#key(versions[i]!.version));
      } catch (err) {
        log.warn('skipping an unreadable previous signing key version', {
          secret: this.secretName,
          version: versions[i]!.version,
          error: (err as Error).message,
        });
      }
    }
    if (this.#current && this.#current.kid !== current.kid) this.#retired.set(this.#current.kid, { key: this.#current, at: now });
    for (const [kid, { at }] of this.#retired) if (now >= at + this.maxLifetimeMs) this.#retired.delete(kid);
    const extra = [...this.#retired.values()].map((r) => r.key).filter((k) => k.kid !== current.kid && !previous.some((p) => p.kid === k.kid));
    this.#current = current;
    this.#previous = [...previous, ...extra];
  }

  #key(version: string): Promise<SigningKey> {
    return this.#parsed.load(version, async () => {
      const secret = await this.store.get(this.secretName, { version });
      if (!secret) throw new ConfigError(`version ${version} disappeared`);
      return { value: await signingKeyFrom(secret.value, `Key Vault secret "${this.secretName}" version ${version}`), until: Infinity };
    });
  }
}
