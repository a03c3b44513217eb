// The token-bucket arithmetic shared by the prompt-helper limit and the per-chat call budget: a
// bucket earns `perWindow` tokens every `windowMs`, holds at most `capacity`, and a request spends one.

export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

/** Adds what the bucket earned since it was last updated, up to its capacity. */
export function refill(b: Bucket, capacity: number, perWindow: number, windowMs: number, now: number): void {
  b.tokens = Math.min(capacity, b.tokens + ((now - b.at) * perWindow) / windowMs);
  b.at = now;
}

/** Milliseconds until the bucket holds a whole token again. */
export function msUntilToken(b: Bucket, perWindow: number, windowMs: number): number {
  return Math.ceil(((1 - b.tokens) * windowMs) / perWindow);
}
