// One process per DATA_DIR: a second start refuses with a sentence naming the holder; a lock
// left by a dead process is taken over; release removes only our own lock.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDataDirLock, LOCK_FILE } from '../../src/data-dir-lock.ts';
import { StartupError } from '../../src/startup.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startApp } from '../../src/app.ts';

const tempDir = () => mkdtemp(join(tmpdir(), 'rv-lock-'));

describe('DATA_DIR lock', () => {
  it('a second holder is refused with a sentence naming the first; after release it can take it', async () => {
    const dir = await tempDir();
    const first = await acquireDataDirLock(dir);
    const err = await acquireDataDirLock(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(new RegExp(`Another RecurVid process \\(pid ${process.pid}, started .*\\) is using DATA_DIR .*Stop it first, or give this one its own DATA_DIR\\.`));
    await first.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const second = await acquireDataDirLock(dir);
    await second.release();
  });

  it('a lock left by a process that is gone is taken over', async () => {
    const dir = await tempDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid names no process now
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: dead, host: hostname(), startedAt: 'yesterday' }));
    const lock = await acquireDataDirLock(dir, (pid) => pid !== dead);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it("another host's lock stands (its process cannot be checked from here) and the sentence says how to clear it", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'gpu-box-2', startedAt: 'today' }));
    await expect(acquireDataDirLock(dir)).rejects.toThrow(/pid 1 on gpu-box-2.*if gpu-box-2 is gone for good, delete .*recurvid\.lock/);
  });

  it('a second `recurvid start` on the same DATA_DIR refuses before touching it', async () => {
    const dir = await tempDir();
    const held = await acquireDataDirLock(dir);
    try {
      const config = loadConfig({ DATA_DIR: dir, TELEGRAM_TOKEN: '123:abc', MODELS_DIR: join(dir, 'models') });
      await expect(startApp(config, createLogger({ LOG_LEVEL: 'silent' }))).rejects.toThrow(/is using DATA_DIR/);
      expect(existsSync(join(dir, 'models'))).toBe(false); // no model set built, no store opened
      expect(existsSync(join(dir, 'state.sqlite'))).toBe(false);
    } finally {
      await held.release();
    }
  });
});
