// Job persistence on keyv: an embedded SQLite file by default, Redis when REDIS_URL is set.
// Keyv cannot list keys on every adapter, so the queue keeps one index record: every known job id
// in submission order plus its fairness round. Only one queue process owns a store (one GPU); it
// holds the index in memory and writes it whole, serialised, after each change.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import Keyv from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import KeyvRedis from '@keyv/redis';
import { withScopedUser } from './identity.ts';
import type { JobRecord } from './types.ts';
import { storedJobOptions } from '../options/job-options.ts';
import type { TimingTable } from './timing.ts';

export interface JobIndexEntry {
  id: string;
  /** Fairness round (see fairness.ts); only meaningful while the job is active. */
  round: number;
}

export interface JobIndex {
  version: 1;
  /** The next submission number (#seq users see). */
  nextSeq: number;
  /** Every stored job, oldest first. */
  jobs: JobIndexEntry[];
}

export interface JobStore {
  /** 'sqlite:<file>' or 'redis' (never the URL: it may hold a password). */
  readonly description: string;
  loadIndex(): Promise<JobIndex>;
  saveIndex(index: JobIndex): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  getJobs(ids: readonly string[]): Promise<Array<JobRecord | undefined>>;
  putJob(job: JobRecord): Promise<void>;
  deleteJob(id: string): Promise<void>;
  loadTimings(): Promise<TimingTable>;
  saveTimings(table: TimingTable): Promise<void>;
  close(): Promise<void>;
}

const NAMESPACE = 'recurvid-queue';
const INDEX_KEY = 'index';
const TIMINGS_KEY = 'timings';
const jobKey = (id: string) => `job:${id}`;

export function emptyIndex(): JobIndex {
  return { version: 1, nextSeq: 1, jobs: [] };
}

class KeyvJobStore implements JobStore {
  constructor(
    private readonly keyv: Keyv,
    readonly description: string,
    private readonly disconnect: () => Promise<void>,
  ) {}

  async loadIndex(): Promise<JobIndex> {
    const stored = await this.keyv.get<JobIndex>(INDEX_KEY);
    return stored && stored.version === 1 ? stored : emptyIndex();
  }

  async saveIndex(index: JobIndex): Promise<void> {
    await this.checked(this.keyv.set(INDEX_KEY, index), 'the job index');
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const row = await this.keyv.get<JobRecord>(jobKey(id));
    return row ? fromStored(row) : undefined;
  }

  async getJobs(ids: readonly string[]): Promise<Array<JobRecord | undefined>> {
    if (ids.length === 0) return [];
    const rows = await this.keyv.getMany<JobRecord>(ids.map(jobKey));
    return rows.map((row) => (row ? fromStored(row) : undefined));
  }

  async putJob(job: JobRecord): Promise<void> {
    await this.checked(this.keyv.set(jobKey(job.id), job), `job ${job.id}`);
  }

  async deleteJob(id: string): Promise<void> {
    await this.keyv.delete(jobKey(id));
  }

  async loadTimings(): Promise<TimingTable> {
    return (await this.keyv.get<TimingTable>(TIMINGS_KEY)) ?? {};
  }

  async saveTimings(table: TimingTable): Promise<void> {
    await this.checked(this.keyv.set(TIMINGS_KEY, table), 'the timing stats');
  }

  async close(): Promise<void> {
    await this.disconnect();
  }

  // keyv reports some adapter failures as `false` instead of throwing; a lost job must not be silent.
  private async checked(write: Promise<boolean>, what: string): Promise<void> {
    if (!(await write)) throw new Error(`Could not save ${what} to the job store (${this.description}).`);
  }
}

export interface JobStoreConfig {
  dataDir: string;
  /** redis:// or rediss:// URL; when set, jobs live in Redis instead of `${dataDir}/jobs.sqlite`. */
  redisUrl?: string;
}

/**
 * node-redis emits 'error' on a lost connection even between commands, and @keyv/redis adds no
 * listener: unhandled, that kills the process. Commands in flight still reject, so callers see it.
 */
export function ignoreClientErrors(adapter: KeyvRedis<unknown>): void {
  (adapter.client as unknown as { on(event: 'error', fn: (err: unknown) => void): unknown }).on('error', () => undefined);
}

export async function openJobStore(config: JobStoreConfig): Promise<JobStore> {
  let keyv: Keyv;
  let description: string;
  let disconnect: () => Promise<void>;
  if (config.redisUrl) {
    // throwOnConnectError: a wrong REDIS_URL must stop the start with a clear error, not hang.
    const adapter = new KeyvRedis(config.redisUrl, { throwOnConnectError: true, connectionTimeout: 5_000 });
    ignoreClientErrors(adapter);
    keyv = new Keyv({ store: adapter, namespace: NAMESPACE, throwOnErrors: true });
    description = 'redis';
    // A polite QUIT never returns when the client is not connected; then drop the socket instead.
    disconnect = async () => {
      const client = adapter.client;
      const ready = 'isReady' in client ? client.isReady : client.isOpen;
      await adapter.disconnect(!ready);
    };
  } else {
    await mkdir(config.dataDir, { recursive: true });
    const file = path.resolve(config.dataDir, 'jobs.sqlite');
    const sqlite = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 5_000 });
    // WAL with synchronous=NORMAL: a crash of the bot loses nothing committed, and each write is
    // one append instead of a full journal sync (progress is written during every job).
    await sqlite.query('PRAGMA journal_mode=WAL');
    await sqlite.query('PRAGMA synchronous=NORMAL');
    keyv = new Keyv({ store: sqlite, namespace: NAMESPACE, throwOnErrors: true });
    description = `sqlite:${file}`;
    disconnect = () => sqlite.disconnect();
  }
  // With throwOnErrors every failure reaches the caller; the listener only stops keyv's error
  // event from going unhandled (e.g. a Redis reconnect) while no call is in flight.
  keyv.on('error', () => undefined);
  const store = new KeyvJobStore(keyv, description, disconnect);
  try {
    await store.loadIndex(); // fail now (bad URL, unwritable file) rather than at the first submit
  } catch (error) {
    await disconnect().catch(() => undefined);
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`Could not open the job store (${description}): ${why}`);
  }
  return store;
}

/**
 * A stored record as this version reads it: its user scoped (identity.ts) and its options upgraded
 * (job-options.ts), so jobs stored by older versions keep their owner and their meaning.
 */
function fromStored(row: JobRecord): JobRecord {
  return { ...withScopedUser(row), options: storedJobOptions(row.options) };
}
