/**
 * The one in-memory cache of tokex (Entra tokens, Key Vault secrets, signing keys, verified subject
 * tokens): each entry lives until its own deadline, the least recently used entry goes first when
 * the cache is full, and concurrent misses for one key share one load (single flight), so a burst
 * of requests makes one downstream call, not one each.
 */
export interface BoundedCacheOptions {
  /** At most this many entries; 0 keeps nothing (every lookup misses, loads are still shared). */
  readonly maxEntries: number;
  readonly now?: () => number;
}

/** What a load produced: the value, and until when (ms since the epoch) it may be reused; undefined: not kept. */
export interface Loaded<V> {
  readonly value: V;
  readonly until: number | undefined;
}

export class BoundedCache<K, V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  readonly #entries = new Map<K, { readonly value: V; readonly until: number }>();
  readonly #loading = new Map<K, Promise<V>>();
  /** The key last inserted or moved to the end. */
  #newest: K | undefined;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: BoundedCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0) throw new RangeError('maxEntries must be a non-negative integer');
    this.#max = options.maxEntries;
    this.#now = options.now ?? (() => Date.now());
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value while it is fresh, else undefined (an expired entry is dropped). */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= this.#now()) {
      this.delete(key);
      return undefined;
    }
    // Already the most recently used (a token presented again and again): nothing to move.
    if (key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry.value;
  }

  /** Keeps `value` until `until`; one already past is not kept. Evicts the least recently used beyond the bound. */
  set(key: K, value: V, until: number): void {
    this.delete(key);
    if (this.#max === 0 || !(until > this.#now())) return;
    this.#entries.set(key, { value, until });
    this.#newest = key;
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.#entries.delete(key);
    if (key === this.#newest) this.#newest = undefined;
  }

  clear(): void {
    this.#entries.clear();
    this.#newest = undefined;
  }

  /**
   * The fresh value, or the result of `load`, which runs once for all concurrent callers of a key.
   * A load that fails is not kept: every caller waiting on it gets its error, the next one tries again.
   */
  load(key: K, load: () => Promise<Loaded<V>>): Promise<V> {
    const fresh = this.get(key);
    if (fresh !== undefined) return Promise.resolve(fresh);
    let pending = this.#loading.get(key);
    if (pending === undefined) {
      let started: Promise<Loaded<V>>;
      try {
        started = load();
      } catch (err) {
        started = Promise.reject(err);
      }
      pending = started.then(({ value, until }) => {
        if (until === undefined) this.delete(key);
        else this.set(key, value, until);
        return value;
      });
      this.#loading.set(key, pending);
      const done = () => void this.#loading.delete(key);
      pending.then(done, done);
    }
    return pending;
  }
}
