import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../../shared/cache/bounded-cache.js';

function clock(start = 1_000_000) {
  const c = {
    now: start,
    tick(ms: number) {
      c.now += ms;
    },
  };
  return c;
}

describe('BoundedCache', () => {
  it('keeps an entry until its own deadline, not a moment longer', () => {
    const t = clock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, now: () => t.now });
    cache.set('a', 1, t.now + 100);
    t.tick(99);
    expect(cache.get('a')).toBe(1);
    t.tick(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not keep an entry whose deadline has passed, or anything when the bound is 0', () => {
    const t = clock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, now: () => t.now });
    cache.set('past', 1, t.now);
    expect(cache.get('past')).toBeUndefined();
    const none = new BoundedCache<string, number>({ maxEntries: 0, now: () => t.now });
    none.set('a', 1, t.now + 1000);
    expect([none.get('a'), none.size]).toEqual([undefined, 0]);
  });

  it('evicts the least recently used entry beyond the bound', () => {
    const t = clock();
    const cache = new BoundedCache<string, number>({ maxEntries: 3, now: () => t.now });
    for (const k of ['a', 'b', 'c']) cache.set(k, 1, t.now + 1000);
    expect(cache.get('a')).toBe(1); // a is now the most recently used; b the least
    cache.set('d', 1, t.now + 1000);
    expect(['a', 'b', 'c', 'd'].map((k) => cache.get(k) !== undefined)).toEqual([true, false, true, true]);
    expect(cache.size).toBe(3);
  });

  it('using the most recent entry again and again keeps the order of the others', () => {
    const t = clock();
    const cache = new BoundedCache<string, number>({ maxEntries: 2, now: () => t.now });
    cache.set('old', 1, t.now + 1000);
    cache.set('hot', 2, t.now + 1000);
    for (let i = 0; i < 3; i++) expect(cache.get('hot')).toBe(2);
    cache.set('new', 3, t.now + 1000);
    expect([cache.get('old'), cache.get('hot'), cache.get('new')]).toEqual([undefined, 2, 3]);
    cache.delete('new');
    cache.set('again', 4, t.now + 1000);
    expect([cache.get('hot'), cache.get('again'), cache.size]).toEqual([2, 4, 2]);
  });

  it('concurrent misses share one load; the loaded value is kept until the deadline it names', async () => {
    const t = clock();
    const cache = new BoundedCache<string, string>({ maxEntries: 10, now: () => t.now });
    let loads = 0;
    let finish: (v: string) => void = () => {};
    const load = () => {
      loads++;
      return new Promise<{ value: string; until: number }>((resolve) => (finish = (value) => resolve({ value, until: t.now + 50 })));
    };
    const waiting = Promise.all(Array.from({ length: 5 }, () => cache.load('k', load)));
    finish('v1');
    expect(await waiting).toEqual(Array(5).fill('v1'));
    expect(loads).toBe(1);
    expect(await cache.load('k', load)).toBe('v1');
    expect(loads).toBe(1);
    t.tick(50);
    const again = cache.load('k', load);
    finish('v2');
    expect([await again, loads]).toEqual(['v2', 2]);
  });

  it('a failed load is not kept: everyone waiting gets its error, the next caller loads again', async () => {
    const cache = new BoundedCache<string, string>({ maxEntries: 10 });
    let loads = 0;
    const failing = async () => {
      loads++;
      throw new Error('down');
    };
    const results = await Promise.allSettled([cache.load('k', failing), cache.load('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(loads).toBe(1);
    expect(await cache.load('k', async () => ({ value: 'up', until: Date.now() + 1000 }))).toBe('up');
  });

  it('a load that says "not kept" (until undefined) is shared but not remembered', async () => {
    const cache = new BoundedCache<string, string>({ maxEntries: 10 });
    let loads = 0;
    const load = async () => ({ value: `v${++loads}`, until: undefined });
    expect(await Promise.all([cache.load('k', load), cache.load('k', load)])).toEqual(['v1', 'v1']);
    expect(await cache.load('k', load)).toBe('v2');
  });

  it('refuses a bound that is not a whole number', () => {
    expect(() => new BoundedCache({ maxEntries: -1 })).toThrow(RangeError);
    expect(() => new BoundedCache({ maxEntries: 1.5 })).toThrow(RangeError);
  });
});
