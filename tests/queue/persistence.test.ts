import { mkdir, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';
import { openJobStore } from '../../src/queue/store.ts';
import { runCleanups, startQueue, tempDataDir } from './helpers.ts';
import { closeAndResume, crashAndResume } from './restart-scenarios.ts';

afterEach(runCleanups);

describe('persistence on the SQLite store', () => {
  it('after a crash, re-queues running and queued jobs in order and resumes from the checkpoint', async () => {
    const dataDir = await tempDataDir();
    await crashAndResume(() => openJobStore({ dataDir }), dataDir);
  });

  it('after close(), resumes the interrupted job and never reruns finished ones', async () => {
    const dataDir = await tempDataDir();
    await closeAndResume(() => openJobStore({ dataDir }), dataDir);
  });

  it('keeps the store in DATA_DIR/jobs.sqlite and removes job dirs no index entry knows', async () => {
    const dataDir = await tempDataDir();
    const orphan = path.join(dataDir, 'jobs', 'half-submitted');
    await mkdir(orphan, { recursive: true });
    await writeFile(path.join(orphan, 'input.png'), 'x');
    await startQueue({ dataDir, engine: new FakeEngine() });
    await access(path.join(dataDir, 'jobs.sqlite'));
    await expect(access(orphan)).rejects.toThrow();
  });
});
