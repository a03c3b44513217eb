// Time source for the queue. Real time in production; tests and the fake engine share a ManualClock
// so that measured step times (and therefore ETAs) are exact and never depend on machine load.

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(private current = 1_700_000_000_000) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance needs a non-negative number, got ${ms}`);
    this.current += ms;
  }
}
