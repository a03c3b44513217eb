// Child process for the 640-bucket kill-and-resume test: runs one FramePack job on the real engine
// (tiny widths) in a work directory and prints each engine event as a JSON line until it is killed.
// Usage: engine-child.ts <models> <work dir> <job JSON: { imagePath, endImagePath?, options }>
import { createFramePackEngine } from '../../src/engine/framepack.ts';
import type { EngineJob } from '../../src/engine/types.ts';
import { REAL_SHAPES_RESOLUTION, realShapesMemoryBudgetGb } from './real-shapes-setup.ts';

const [modelDir, workDir, jobJson] = process.argv.slice(2) as [string, string, string];
const job = JSON.parse(jobJson) as Pick<EngineJob, 'imagePath' | 'endImagePath' | 'options'>;
const engine = await createFramePackEngine({ modelDir, provider: 'cpu', resolution: REAL_SHAPES_RESOLUTION, memoryBudgetGb: realShapesMemoryBudgetGb() });
await engine.run({
  ...job, workDir, signal: new AbortController().signal,
  onEvent: (e) => process.stdout.write(`${JSON.stringify({ type: e.type, section: 'section' in e ? e.section : undefined })}\n`),
});
await engine.close();
