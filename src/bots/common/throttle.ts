// Rate-limits status edits per message: at most one send per interval per key, never two in
// flight for the same key, and only the latest value is sent (intermediate ones are dropped).
// `delay` pushes the next send back, e.g. to honor a platform's 429 retry_after.
// Time comes from injected timers (the real ones by default), so the policy is tested without
// waiting and without depending on how busy the machine is.
import { realTimers, type Timers } from '../../util/timers.ts';

interface KeyState<T> {
  pending: { value: T } | undefined;
  inFlight: Promise<void> | undefined;
  timer: unknown;
  /** Earliest start of the next regular send (last start + interval, or a delay). */
  notBefore: number;
  /** Set by `delay`: even a flush waits for this. */
  blockedUntil: number;
}

export interface ThrottleOptions {
  intervalMs: number;
  onError?: (err: unknown) => void;
  timers?: Timers;
}

export class LatestWinsThrottle<T> {
  private readonly keys = new Map<string, KeyState<T>>();
  private closed = false;
  private readonly timers: Timers;

  constructor(
    private readonly send: (key: string, value: T) => Promise<void>,
    private readonly opts: ThrottleOptions,
  ) {
    this.timers = opts.timers ?? realTimers;
  }

  /** Records the latest value for the key; it is sent as soon as the key's interval allows. */
  push(key: string, value: T): void {
    if (this.closed) return;
    const state = this.state(key);
    state.pending = { value };
    this.schedule(key, state);
  }

  /**
   * Sends the key's pending value now (skipping the interval, but not a `delay`) and resolves
   * once everything pushed so far for this key has been sent.
   */
  async flush(key: string): Promise<void> {
    const state = this.keys.get(key);
    if (!state) return;
    while (state.inFlight || state.pending) {
      if (state.inFlight) {
        await state.inFlight;
        continue;
      }
      const blocked = state.blockedUntil - this.timers.now();
      if (blocked > 0) {
        await new Promise<void>((resolve) => this.timers.setTimeout(resolve, blocked));
        continue;
      }
      this.clearTimer(state);
      this.start(key, state);
    }
  }

  /** Holds the key's next send back by at least `ms` (platform rate limit). */
  delay(key: string, ms: number): void {
    const state = this.state(key);
    const until = this.timers.now() + Math.max(0, ms);
    state.blockedUntil = Math.max(state.blockedUntil, until);
    state.notBefore = Math.max(state.notBefore, until);
    this.clearTimer(state);
    this.schedule(key, state);
  }

  /** Sends every pending value, waits for them, then ignores further pushes. */
  async close(): Promise<void> {
    await Promise.all([...this.keys.keys()].map((key) => this.flush(key)));
    this.closed = true;
    for (const state of this.keys.values()) this.clearTimer(state);
    this.keys.clear();
  }

  private state(key: string): KeyState<T> {
    let state = this.keys.get(key);
    if (!state) {
      state = { pending: undefined, inFlight: undefined, timer: undefined, notBefore: 0, blockedUntil: 0 };
      this.keys.set(key, state);
    }
    return state;
  }

  private schedule(key: string, state: KeyState<T>): void {
    if (state.inFlight || state.timer) return; // the in-flight send or the timer reschedules
    const wait = state.notBefore - this.timers.now();
    if (wait > 0) {
      state.timer = this.timers.setTimeout(() => {
        state.timer = undefined;
        this.schedule(key, state);
      }, wait);
    } else if (state.pending) {
      this.start(key, state);
    } else {
      this.keys.delete(key); // idle and past its interval: nothing to remember
    }
  }

  private start(key: string, state: KeyState<T>): void {
    const { value } = state.pending!;
    state.pending = undefined;
    state.notBefore = Math.max(state.notBefore, this.timers.now() + this.opts.intervalMs);
    state.inFlight = Promise.resolve()
      .then(() => this.send(key, value))
      .catch((err: unknown) => {
        try {
          this.opts.onError?.(err);
        } catch {
          /* a failing error handler must not break the key's later sends */
        }
      })
      .finally(() => {
        state.inFlight = undefined;
        if (this.keys.get(key) === state) this.schedule(key, state);
      });
  }

  private clearTimer(state: KeyState<T>): void {
    if (state.timer !== undefined) this.timers.clearTimeout(state.timer);
    state.timer = undefined;
  }
}
