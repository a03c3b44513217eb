// What the bots' process knows of the scale-out queue's active jobs: a mirror of the shared
// active-job table (re-read from Redis under admission and on every refresh) and the records of the
// active jobs it has seen, with their local file paths, read through from the job store.
import type { Logger } from '../../log.ts';
import { userIdentity } from '../identity.ts';
import type { JobStore } from '../store.ts';
import type { JobRecord, Platform } from '../types.ts';
import type { ActiveEntry } from './protocol.ts';

export const snapshot = (record: JobRecord): JobRecord => structuredClone(record);

export class JobMirror {
  /** Mirror of the shared active-job table. */
  active = new Map<string, ActiveEntry>();
  /** Records of active jobs this process has seen, with local file paths. */
  private readonly records = new Map<string, JobRecord>();

  constructor(
    private readonly store: JobStore,
    private readonly log: Logger,
  ) {}

  /** The record, from this process's copy while the job is active, else from the store. */
  async record(jobId: string): Promise<JobRecord | undefined> {
    const cached = this.records.get(jobId);
    if (cached) return cached;
    const stored = await this.store.getJob(jobId);
    if (stored && (stored.state === 'queued' || stored.state === 'running')) this.records.set(jobId, stored);
    return stored;
  }

  /** The record if this process holds it (no store read: for synchronous position updates). */
  held(jobId: string): JobRecord | undefined {
    return this.records.get(jobId);
  }

  hold(record: JobRecord): void {
    this.records.set(record.id, record);
  }

  /** A finished job leaves the mirror. */
  forget(jobId: string): void {
    this.active.delete(jobId);
    this.records.delete(jobId);
  }

  /** Writes the record (a failure is logged: the next write carries the state again). */
  async persist(record: JobRecord): Promise<void> {
    try {
      await this.store.putJob(snapshot(record));
    } catch (err) {
      this.log.error({ err, jobId: record.id }, 'could not save job record');
    }
  }

  /** A user's active entries, oldest first. Entries written before identities were scoped hold the bare id, so both sides are scoped. */
  entriesOf(platform: Platform, userId: string): ActiveEntry[] {
    const who = userIdentity(platform, userId);
    return [...this.active.values()].filter((e) => userIdentity(e.platform, e.userId) === who).sort((a, b) => a.seq - b.seq);
  }
}
