// The single-machine queue's ledger: job records, the job index, timing stats and retention, on
// the keyv job store. One single-slot p-queue serialises every write, so the index and records land
// in the order the changes happened; retention runs inside that same line of writes.
import PQueue from 'p-queue';
import type { Logger } from '../log.ts';
import type { Clock } from './clock.ts';
import { directoryBytes, jobDir, listJobDirs, removeJobFiles } from './job-files.ts';
import { chooseExpired, type RetentionLimits } from './retention.ts';
import { emptyIndex, type JobIndex, type JobStore } from './store.ts';
import type { TimingTable } from './timing.ts';
import type { JobRecord } from './types.ts';

export interface LoadedLedger {
  /** Records of queued or running jobs (a restart interrupted them), with their fairness round. */
  unfinished: Array<{ record: JobRecord; round: number }>;
  timings: TimingTable;
  /** The highest fairness round of any kept job. */
  maxRound: number;
}

export class JobLedger {
  private readonly writes = new PQueue({ concurrency: 1 });
  private index: JobIndex = emptyIndex();
  /** Bytes and finish time of finished jobs still on disk, for retention. */
  private readonly finished = new Map<string, { finishedAt: number; bytes: number }>();
  private retentionPending = false;

  constructor(
    private readonly store: JobStore,
    private readonly dataDir: string,
    private readonly limits: RetentionLimits,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Bytes on disk of the jobs still active (they count toward the size limit but are kept). */
    private readonly activeBytes: () => number,
  ) {}

  /** Reads the index and records, drops dangling entries and orphan files. */
  async load(): Promise<LoadedLedger> {
    this.index = await this.store.loadIndex();
    const timings = await this.store.loadTimings();
    const records = await this.store.getJobs(this.index.jobs.map((e) => e.id));
    const unfinished: LoadedLedger['unfinished'] = [];
    const known = new Set<string>();
    const kept: JobIndex['jobs'] = [];
    for (const [i, entry] of this.index.jobs.entries()) {
      const record = records[i];
      if (!record) {
        this.log.warn({ jobId: entry.id }, 'job listed in the index has no record; dropping it from the index');
        continue;
      }
      kept.push(entry);
      known.add(entry.id);
      if (record.state === 'queued' || record.state === 'running') {
        unfinished.push({ record, round: entry.round });
      } else {
        const bytes = await directoryBytes(jobDir(this.dataDir, record.id));
        this.finished.set(record.id, { finishedAt: record.finishedAt ?? record.createdAt, bytes });
      }
    }
    this.index.jobs = kept;
    // Leftovers of a submit that crashed before its index write: nobody was told "queued".
    for (const dir of await listJobDirs(this.dataDir)) {
      if (!known.has(dir)) await removeJobFiles(this.dataDir, dir);
    }
    return { unfinished, timings, maxRound: Math.max(0, ...kept.map((e) => e.round)) };
  }

  /** The next submission number (#seq users see). */
  get nextSeq(): number {
    return this.index.nextSeq;
  }

  /** Writes a new job's record, then lists it in the index; undone (files too) if either write fails. */
  async admit(record: JobRecord, round: number): Promise<void> {
    try {
      await this.put(record);
      this.index.nextSeq = record.seq + 1;
      this.index.jobs.push({ id: record.id, round });
      await this.saveIndex();
    } catch (error) {
      this.index.jobs = this.index.jobs.filter((e) => e.id !== record.id);
      await removeJobFiles(this.dataDir, record.id).catch(() => undefined);
      throw error;
    }
  }

  put(record: JobRecord): Promise<void> {
    const copy = structuredClone(record);
    return this.writes.add(() => this.store.putJob(copy));
  }

  /** For writes after admission: a store hiccup is logged, and the GPU work and events go on. */
  async putQuietly(record: JobRecord): Promise<void> {
    try {
      await this.put(record);
    } catch (error) {
      this.log.error({ err: error, jobId: record.id }, 'could not save job record');
    }
  }

  saveIndex(): Promise<void> {
    const copy = structuredClone(this.index);
    return this.writes.add(() => this.store.saveIndex(copy));
  }

  get(jobId: string): Promise<JobRecord | undefined> {
    return this.store.getJob(jobId);
  }

  /** Patches a stored (not active) job's reply target, in write order. */
  patchReply(jobId: string, patch: Record<string, string>): Promise<void> {
    return this.writes.add(async () => {
      const stored = await this.store.getJob(jobId);
      if (!stored) throw new Error(`updateReply: no job ${jobId}.`);
      Object.assign(stored.reply, patch);
      await this.store.putJob(stored);
    });
  }

  saveTimings(table: TimingTable): void {
    this.writes.add(() => this.store.saveTimings(table)).catch((error: unknown) => {
      this.log.warn({ err: error }, 'could not save timing stats');
    });
  }

  /** Notes a finished job's size on disk and schedules retention. */
  async noteFinished(record: JobRecord): Promise<void> {
    const bytes = await directoryBytes(jobDir(this.dataDir, record.id));
    this.finished.set(record.id, { finishedAt: record.finishedAt ?? this.clock.now(), bytes });
    this.scheduleRetention();
  }

  scheduleRetention(): void {
    if (this.retentionPending) return;
    this.retentionPending = true;
    this.writes
      .add(async () => {
        this.retentionPending = false;
        await this.applyRetention();
      })
      .catch((error: unknown) => this.log.warn({ err: error }, 'job cleanup failed'));
  }

  /** Resolves when every write so far has landed. */
  idle(): Promise<void> {
    return this.writes.onIdle();
  }

  /** Runs inside the write queue, so it talks to the store directly. */
  private async applyRetention(): Promise<void> {
    const candidates = [...this.finished].map(([id, f]) => ({ id, ...f }));
    // Cached sizes: walking every queued job's directory after each finish would cost O(queue) I/O.
    const doomed = chooseExpired(candidates, this.activeBytes(), this.limits, this.clock.now());
    if (doomed.length === 0) return;
    const gone = new Set(doomed);
    // Index first: a crash part-way leaves orphan files (removed at the next start), never a dangling entry.
    this.index.jobs = this.index.jobs.filter((e) => !gone.has(e.id));
    await this.store.saveIndex(structuredClone(this.index));
    for (const id of doomed) {
      this.finished.delete(id);
      await this.store.deleteJob(id);
      await removeJobFiles(this.dataDir, id);
    }
    this.log.info({ removed: doomed.length }, 'old finished jobs cleaned up');
  }
}
