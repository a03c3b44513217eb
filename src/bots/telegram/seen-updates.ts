// Idempotent update handling: Telegram re-delivers an update when the bot did not confirm it (a
// crash, a timeout), so each update_id is remembered for a while and a second copy is dropped.
// Keyv's SQLite store only drops an expired row when that key is read again, and an update id is
// never read again, so rows would pile up forever: at most once per sweep interval the expired
// update rows are deleted, in the background (one DELETE on SQLite; Keyv's iterator, which deletes
// the expired entries it meets, elsewhere; Redis expires keys by itself).
import type Keyv from 'keyv';

const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_SWEEP_EVERY_MS = 60 * 60 * 1000;

export interface SeenUpdatesOptions {
  ttlMs?: number;
  sweepEveryMs?: number;
  now?: () => number;
}

export class SeenUpdates {
  /** Ids being handled right now: a duplicate may arrive before the store write finished. */
  private readonly inFlight = new Set<number>();
  private readonly ttlMs: number;
  private readonly sweepEveryMs: number;
  private readonly now: () => number;
  private lastSweep: number;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly store: Keyv,
    opts: SeenUpdatesOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.sweepEveryMs = opts.sweepEveryMs ?? DEFAULT_SWEEP_EVERY_MS;
    this.now = opts.now ?? Date.now;
    this.lastSweep = -Infinity; // the first update after a start sweeps what earlier runs left
  }

  /** True the first time an update id is seen; false for every later copy. */
  async firstTime(updateId: number): Promise<boolean> {
    if (this.inFlight.has(updateId)) return false;
    this.inFlight.add(updateId);
    try {
      const key = `tg:update:${updateId}`;
      if (await this.store.get(key)) return false;
      await this.store.set(key, 1, this.ttlMs);
      this.maybeSweep();
      return true;
    } finally {
      // Kept in memory a little longer than the write, so a quick duplicate is caught either way.
      setTimeout(() => this.inFlight.delete(updateId), 60_000).unref();
    }
  }

  /** Deletes the expired update rows; resolves to how many were deleted (-1: the store could not say). */
  async sweep(): Promise<number> {
    this.sweeping ??= this.deleteExpired().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async deleteExpired(): Promise<number> {
    const adapter = this.store.store as { query?: (sql: string, ...args: unknown[]) => Promise<unknown> } | undefined;
    if (adapter && typeof adapter.query === 'function' && isSqlite(adapter)) {
      // One statement: paging through Keyv's iterator while it deletes skips rows.
      const prefix = this.store.namespace ? `${this.store.namespace}:` : '';
      const before = (await adapter.query('SELECT COUNT(*) AS n FROM keyv')) as Array<{ n: number }>;
      await adapter.query(
        "DELETE FROM keyv WHERE key LIKE ? AND CAST(json_extract(value, '$.expires') AS INTEGER) < ?",
        `${prefix}tg:update:%`,
        Date.now(),
      );
      const after = (await adapter.query('SELECT COUNT(*) AS n FROM keyv')) as Array<{ n: number }>;
      return (before[0]?.n ?? 0) - (after[0]?.n ?? 0);
    }
    if (this.store.iterator) for await (const _ of this.store.iterator(this.store.namespace)) void _;
    return -1;
  }

  private maybeSweep(): void {
    const at = this.now();
    if (at - this.lastSweep < this.sweepEveryMs) return;
    this.lastSweep = at;
    void this.sweep().catch(() => undefined); // housekeeping: a failed sweep is retried next interval
  }
}

function isSqlite(adapter: object): boolean {
  const opts = (adapter as { opts?: { dialect?: string } }).opts;
  return opts?.dialect === 'sqlite';
}
