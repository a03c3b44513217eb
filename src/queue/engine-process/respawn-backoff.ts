// When an idle engine process dies it is started again, but not in a tight loop: a model set that
// crashes the process right after loading (a bad driver, memory taken by something else) would
// otherwise reload 13B weights forever. Delays double from `baseMs` up to `maxMs`; a process that
// stayed up for `healthyAfterMs` resets the count. A pure policy on an injected clock.

export interface RespawnBackoffOptions {
  baseMs?: number;
  maxMs?: number;
  healthyAfterMs?: number;
}

export class RespawnBackoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly healthyAfterMs: number;
  private failures = 0;
  private startedAt: number | undefined;

  constructor(options: RespawnBackoffOptions = {}, private readonly now: () => number = Date.now) {
    this.baseMs = options.baseMs ?? 1000;
    this.maxMs = options.maxMs ?? 60_000;
    this.healthyAfterMs = options.healthyAfterMs ?? 5 * 60_000;
  }

  /** The process became ready. */
  started(): void {
    this.startedAt = this.now();
  }

  /** The process died: how long to wait before starting the next one. */
  nextDelayMs(): number {
    if (this.startedAt !== undefined && this.now() - this.startedAt >= this.healthyAfterMs) this.failures = 0;
    this.startedAt = undefined;
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** this.failures);
    this.failures += 1;
    return delay;
  }
}
