// Retries an operation that may fail for passing reasons (network errors, HTTP 5xx, timeouts):
// a few attempts with growing pauses; errors that retrying cannot fix are thrown at once.

export interface RetryOptions {
  /** Pauses before the 2nd, 3rd… attempt; its length + 1 is the number of attempts. */
  delaysMs: readonly number[];
  /** True when another attempt may succeed. */
  retryable: (err: unknown) => boolean;
  sleep?: (ms: number) => Promise<void>;
  /** Called before each pause (for logging). */
  onRetry?: (err: unknown, attempt: number) => void;
}

export const DEFAULT_RETRY_DELAYS_MS = [1000, 3000] as const;

export function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function withRetries<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = opts.delaysMs[attempt - 1];
      if (delay === undefined || !opts.retryable(err)) throw err;
      opts.onRetry?.(err, attempt);
      await sleep(delay);
    }
  }
}
