import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LatestWinsThrottle } from '../../../src/bots/common/throttle.ts';
import { ManualTimers } from '../../fakes/manual-timers.ts';

interface Sent {
  key: string;
  value: number;
  at: number;
}

/** A send function that records calls and can be held open to test "one in flight". */
function recorder(holdMs = 0) {
  const sent: Sent[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const send = async (key: string, value: number): Promise<void> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    sent.push({ key, value, at: Date.now() });
    if (holdMs) await new Promise((r) => setTimeout(r, holdMs));
    inFlight--;
  };
  return { sent, send, maxInFlight: () => maxInFlight };
}

describe('LatestWinsThrottle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first value at once, then only the latest once per interval', async () => {
    const r = recorder();
    const t = new LatestWinsThrottle(r.send, { intervalMs: 1000 });
    t.push('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    t.push('a', 2);
    t.push('a', 3);
    await vi.advanceTimersByTimeAsync(500);
    expect(r.sent.map((s) => s.value)).toEqual([1]);
    t.push('a', 4);
    await vi.advanceTimersByTimeAsync(500);
    expect(r.sent).toEqual([
      { key: 'a', value: 1, at: 0 },
      { key: 'a', value: 4, at: 1000 },
    ]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(r.sent).toHaveLength(2);
  });

  it('keeps keys independent', async () => {
    const r = recorder();
    const t = new LatestWinsThrottle(r.send, { intervalMs: 1000 });
    t.push('a', 1);
    t.push('b', 10);
    await vi.advanceTimersByTimeAsync(0);
    expect(r.sent.map((s) => `${s.key}${s.value}`)).toEqual(['a1', 'b10']);
  });

  it('never has two sends in flight for one key, even when a send outlasts the interval', async () => {
    const r = recorder(2500);
    const t = new LatestWinsThrottle(r.send, { intervalMs: 1000 });
    t.push('a', 1);
    await vi.advanceTimersByTimeAsync(1200);
    t.push('a', 2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.sent.map((s) => s.value)).toEqual([1]); // still waiting for the first send
    await vi.advanceTimersByTimeAsync(300);
    expect(r.sent.map((s) => [s.value, s.at])).toEqual([
      [1, 0],
      [2, 2500],
    ]);
    expect(r.maxInFlight()).toBe(1);
  });

  it('delay() holds the next send back (platform retry_after)', async () => {
    const r = recorder();
    const t = new LatestWinsThrottle(r.send, { intervalMs: 1000 });
    t.push('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    t.delay('a', 5000);
    t.push('a', 2);
    await vi.advanceTimersByTimeAsync(4900);
    expect(r.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(r.sent.map((s) => [s.value, s.at])).toEqual([
      [1, 0],
      [2, 5000],
    ]);
  });

  it('reports send errors and keeps sending later values', async () => {
    const errors: unknown[] = [];
    const values: number[] = [];
    const t = new LatestWinsThrottle<number>(
      async (_key, value) => {
        values.push(value);
        if (value === 1) throw new Error('edit failed');
      },
      { intervalMs: 1000, onError: (err) => errors.push(err) },
    );
    t.push('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    t.push('a', 2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(values).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('edit failed');
  });

  it('flush() sends the pending value now and waits for it', async () => {
    const r = recorder(100);
    const t = new LatestWinsThrottle(r.send, { intervalMs: 10_000 });
    t.push('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    t.push('a', 2);
    const flushed = t.flush('a');
    let done = false;
    void flushed.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(r.sent.map((s) => [s.value, s.at])).toEqual([
      [1, 0],
      [2, 100],
    ]);
    expect(done).toBe(false); // second send still in flight
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toBe(true);
  });

  it('close() sends what is pending, then ignores pushes', async () => {
    const r = recorder();
    const t = new LatestWinsThrottle(r.send, { intervalMs: 1000 });
    t.push('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    t.push('a', 2);
    await t.close();
    t.push('a', 3);
    await vi.advanceTimersByTimeAsync(5000);
    expect(r.sent.map((s) => s.value)).toEqual([1, 2]);
  });
});

describe('LatestWinsThrottle with injected timers (no real time involved)', () => {
  it('starts sends exactly one interval apart, the latest value winning, whatever the machine load', async () => {
    const timers = new ManualTimers();
    const starts: Array<{ at: number; value: number }> = [];
    const throttle = new LatestWinsThrottle<number>(async (_key, value) => {
      starts.push({ at: timers.now(), value });
    }, { intervalMs: 250, timers });
    for (let v = 1; v <= 40; v++) {
      throttle.push('status', v);
      await timers.advance(20); // a step event every 20 ms
    }
    await timers.advance(1000);
    expect(starts[0]).toEqual({ at: 0, value: 1 });
    for (let i = 1; i < starts.length; i++) expect(starts[i]!.at - starts[i - 1]!.at).toBeGreaterThanOrEqual(250);
    expect(starts.at(-1)!.value).toBe(40);
    expect(starts.length).toBeLessThanOrEqual(Math.ceil((40 * 20) / 250) + 1);
  });

  it('delay() (a 429 retry_after) is measured on the injected clock too', async () => {
    const timers = new ManualTimers();
    const starts: number[] = [];
    const throttle = new LatestWinsThrottle<number>(async () => {
      starts.push(timers.now());
    }, { intervalMs: 100, timers });
    throttle.push('k', 1);
    await timers.advance(0);
    throttle.delay('k', 3000);
    throttle.push('k', 2);
    await timers.advance(2999);
    expect(starts).toEqual([0]);
    await timers.advance(1);
    expect(starts).toEqual([0, 3000]);
  });
});
