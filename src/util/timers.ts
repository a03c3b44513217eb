// The clock and timers that time-based policies schedule with (edit throttles, chat budgets, engine
// restarts): the real ones by default, and in tests ones that move only when told
// (tests/fakes/manual-timers.ts), so those policies are checked exactly whatever the machine's load.

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
