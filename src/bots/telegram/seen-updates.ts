// Idempotent update handling: Telegram re-delivers an update when the bot did not confirm it (a
// crash, a timeout), so each update_id is remembered for a while and a second copy is dropped.
import type Keyv from 'keyv';

const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

export class SeenUpdates {
  /** Ids being handled right now: a duplicate may arrive before the store write finished. */
  private readonly inFlight = new Set<number>();

  constructor(
    private readonly store: Keyv,
    private readonly ttlMs = DEFAULT_TTL_MS,
  ) {}

  /** True the first time an update id is seen; false for every later copy. */
  async firstTime(updateId: number): Promise<boolean> {
    if (this.inFlight.has(updateId)) return false;
    this.inFlight.add(updateId);
    try {
      const key = `tg:update:${updateId}`;
      if (await this.store.get(key)) return false;
      await this.store.set(key, 1, this.ttlMs);
      return true;
    } finally {
      // Kept in memory a little longer than the write, so a quick duplicate is caught either way.
      setTimeout(() => this.inFlight.delete(updateId), 60_000).unref();
    }
  }
}
