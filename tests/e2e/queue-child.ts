// Child process for the kill-and-resume test: runs the real job queue with the tiny FramePack
// engine, submits one job and prints queue events as JSON lines until it is killed.
import { readFile } from 'node:fs/promises';
import { createFramePackEngine } from '../../src/engine/framepack.ts';
import { createJobQueue, openJobStore } from '../../src/queue/index.ts';
import { resumeTestOptions, RESUME_TEST_RESOLUTION, queueConfig } from './resume-setup.ts';

const [dataDir, modelDir, imagePath] = process.argv.slice(2) as [string, string, string];
const engine = await createFramePackEngine({ modelDir, provider: 'cpu', resolution: RESUME_TEST_RESOLUTION });
const store = await openJobStore({ dataDir });
const queue = createJobQueue({ engine, store, config: queueConfig(dataDir) });
queue.subscribe((e) => {
  const line = e.type === 'engine' ? { type: e.type, event: e.event.type, section: 'section' in e.event ? e.event.section : undefined } : { type: e.type };
  process.stdout.write(`${JSON.stringify({ ...line, jobId: e.job.id })}\n`);
});
await queue.start();
await queue.submit({
  platform: 'cli', userId: 'u1', reply: {}, image: await readFile(imagePath), imageName: 'start.png', options: resumeTestOptions(),
});
