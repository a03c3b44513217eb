// One process per DATA_DIR. Two `recurvid start`s on one folder would re-run each other's running
// job in the same work directory, hand out the same job number twice and delete each other's job
// folders as "unindexed". The lock is a file created exclusively (O_EXCL) holding the owner's pid
// and host; a lock whose process is gone (a crash, SIGKILL) is stale and taken over.
import { open, readFile, rm, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { StartupError } from './startup.ts';

export const LOCK_FILE = 'recurvid.lock';

interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Takes DATA_DIR for this process, or throws a StartupError naming the process that holds it. */
export async function acquireDataDirLock(dataDir: string, isAlive: (pid: number) => boolean = processIsAlive): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const path = join(resolve(dataDir), LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  // Two tries: the second after removing a stale lock (another starter may win that race; then we refuse).
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(JSON.stringify(me));
      await file.close();
      return { path, release: () => releaseIfOurs(path, me) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(path);
    if (owner && !isStale(owner, isAlive)) {
      const where = owner.host === me.host ? `pid ${owner.pid}` : `pid ${owner.pid} on ${owner.host}`;
      throw new StartupError(
        `Another RecurVid process (${where}, started ${owner.startedAt}) is using DATA_DIR ${resolve(dataDir)}. ` +
          'Stop it first, or give this one its own DATA_DIR' +
          (owner.host === me.host ? '.' : ` (if ${owner.host} is gone for good, delete ${path}).`),
      );
    }
    await rm(path, { force: true });
  }
  throw new StartupError(`Another RecurVid process took DATA_DIR ${resolve(dataDir)} while this one started. Stop it first, or give this one its own DATA_DIR.`);
}

function isStale(owner: LockOwner, isAlive: (pid: number) => boolean): boolean {
  // Another host's process cannot be checked from here: its lock stands until it is removed.
  return owner.host === hostname() && !isAlive(owner.pid);
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return { pid: parsed.pid, host: parsed.host, startedAt: String(parsed.startedAt ?? 'at an unknown time') };
    }
  } catch {
    // unreadable or half-written: treated as stale below (no owner to name)
  }
  return undefined;
}

async function releaseIfOurs(path: string, me: LockOwner): Promise<void> {
  const owner = await readOwner(path);
  if (owner && owner.pid === me.pid && owner.host === me.host && owner.startedAt === me.startedAt) await rm(path, { force: true });
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by another user
  }
}
