// How often people may ask the prompt helper (/prompt, "Another suggestion"): each call costs an
// LLM request, so each user and each chat or server has a token bucket. A bucket holds `perWindow`
// requests and refills at that many per window, so bursts are allowed and the long-run rate is
// capped. Pure: the clock is passed in, nothing here waits.
import { msUntilToken, refill, type Bucket } from './token-bucket.ts';

export interface PromptLimitConfig {
  /** Requests one user may make per window (0: no per-user limit). */
  perUser: number;
  /** Requests one chat (Telegram) or server (Discord) may make per window (0: no limit). */
  perPlace: number;
  windowMs: number;
}

export const DEFAULT_PROMPT_LIMITS: PromptLimitConfig = { perUser: 5, perPlace: 20, windowMs: 10 * 60_000 };

export type PromptLimitDecision = { ok: true } | { ok: false; who: 'user' | 'place'; retryInMs: number };

/** Buckets idle this long are full again and can be forgotten, which keeps the maps small. */
const SWEEP_EVERY = 500;

export class PromptLimiter {
  private readonly users = new Map<string, Bucket>();
  private readonly places = new Map<string, Bucket>();
  private takes = 0;

  constructor(
    private readonly config: PromptLimitConfig,
    private readonly now: () => number,
  ) {}

  /** Spends one request for `user` in `place`, or says who is over and when one is free again. A refusal spends nothing. */
  take(user: string, place: string): PromptLimitDecision {
    const now = this.now();
    if (++this.takes % SWEEP_EVERY === 0) this.sweep(now);
    const u = this.config.perUser > 0 ? this.bucket(this.users, user, this.config.perUser, now) : undefined;
    const p = this.config.perPlace > 0 ? this.bucket(this.places, place, this.config.perPlace, now) : undefined;
    if (u && u.tokens < 1) return { ok: false, who: 'user', retryInMs: this.waitMs(u, this.config.perUser) };
    if (p && p.tokens < 1) return { ok: false, who: 'place', retryInMs: this.waitMs(p, this.config.perPlace) };
    if (u) u.tokens -= 1;
    if (p) p.tokens -= 1;
    return { ok: true };
  }

  /** The bucket refilled up to now. */
  private bucket(map: Map<string, Bucket>, key: string, size: number, now: number): Bucket {
    const b = map.get(key) ?? { tokens: size, at: now };
    refill(b, size, size, this.config.windowMs, now);
    map.set(key, b);
    return b;
  }

  private waitMs(b: Bucket, size: number): number {
    return msUntilToken(b, size, this.config.windowMs);
  }

  private sweep(now: number): void {
    for (const map of [this.users, this.places]) {
      for (const [key, b] of map) if (now - b.at >= this.config.windowMs) map.delete(key);
    }
  }
}

/** The sentence for a refusal: who is over the limit and when to try again. */
export function promptLimitMessage(decision: Extract<PromptLimitDecision, { ok: false }>, placeNoun: 'chat' | 'server'): string {
  const when = formatWait(decision.retryInMs);
  return decision.who === 'user'
    ? `You have asked the prompt helper too often. Please try again in ${when}.`
    : `The prompt helper has been asked too often in this ${placeNoun}. Please try again in ${when}.`;
}

function formatWait(ms: number): string {
  if (ms < 60_000) {
    const s = Math.max(1, Math.ceil(ms / 1000));
    return s === 1 ? '1 second' : `${s} seconds`;
  }
  const m = Math.ceil(ms / 60_000);
  return m === 1 ? '1 minute' : `${m} minutes`;
}

/** The limits from configuration keys, defaults for those not set. */
export function promptLimitsFrom(config: { PROMPT_HELPER_PER_USER?: number; PROMPT_HELPER_PER_PLACE?: number; PROMPT_HELPER_WINDOW_S?: number }): PromptLimitConfig {
  return {
    perUser: config.PROMPT_HELPER_PER_USER ?? DEFAULT_PROMPT_LIMITS.perUser,
    perPlace: config.PROMPT_HELPER_PER_PLACE ?? DEFAULT_PROMPT_LIMITS.perPlace,
    windowMs: config.PROMPT_HELPER_WINDOW_S !== undefined ? config.PROMPT_HELPER_WINDOW_S * 1000 : DEFAULT_PROMPT_LIMITS.windowMs,
  };
}
