// The bounded map behind the prompt suggestion stores: caps on count and total bytes, oldest out first.
import { describe, expect, it } from 'vitest';
import { ByteCappedStore } from '../../../src/bots/common/byte-capped-store.ts';

describe('ByteCappedStore', () => {
  it('drops the oldest entries once the total bytes pass the cap', () => {
    const store = new ByteCappedStore<string>(100, 10);
    store.set('a', 'A', 40);
    store.set('b', 'B', 40);
    expect(store.bytes).toBe(80);
    store.set('c', 'C', 40);
    expect(store.get('a')).toBeUndefined();
    expect(store.entries().map(([id]) => id)).toEqual(['b', 'c']);
    expect(store.bytes).toBe(80);
  });

  it('drops the oldest past the count cap, and a replaced entry counts once, as the newest', () => {
    const store = new ByteCappedStore<string>(1_000, 2);
    store.set('a', 'A', 1);
    store.set('b', 'B', 1);
    store.set('a', 'A2', 5);
    expect(store.bytes).toBe(6);
    store.set('c', 'C', 1);
    expect(store.entries()).toEqual([
      ['a', 'A2'],
      ['c', 'C'],
    ]);
  });

  it('keeps the newest entry even when it alone is over the byte cap', () => {
    const store = new ByteCappedStore<string>(10, 5);
    store.set('a', 'A', 5);
    store.set('big', 'BIG', 50);
    expect(store.entries().map(([id]) => id)).toEqual(['big']);
    store.delete('big');
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
  });
});
