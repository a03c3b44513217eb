// One long-video job in a process of its own, so that its peak RSS is its own: run by
// bench/long-video.ts as `tsx bench/long-video/job.ts <source root> <seconds> <work dir> <models>`.
// <source root> is a checkout of the engine: this repository for our design, or a worktree of the
// contender commit (today's design before bounded memory), driven through the same public engine
// API, so both designs are measured by the same code. Prints one JSON line.
//
// Bytes written are counted from the outside, the same way for both designs: after each section
// (and at the end) every file in the work directory that is new or changed since the last look
// counts with its whole size. Files made and deleted within one section (partials, our short head
// clip) are not seen; the rewrite of a checkpoint is.
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
if (args.length !== 4) throw new Error('usage: job.ts <source root> <seconds> <work dir> <models>');
const [root, secondsArg, workDir, modelsDir] = args as [string, string, string, string];
const seconds = Number(secondsArg);
const steps = Number(process.env.LONG_VIDEO_STEPS ?? 1);
const resolution = Number(process.env.LONG_VIDEO_RESOLUTION ?? 640);
const image = resolve(process.env.LONG_VIDEO_IMAGE ?? 'assets/sample.jpg');

const load = (rel: string) => import(pathToFileURL(join(resolve(root), rel)).href);
const { createFramePackEngine } = await load('src/engine/framepack.ts');
const { jobOptions } = await load('src/engine/types.ts');
const { plannedMemoryBudget } = await load('src/startup.ts');
const { loadConfig } = await load('src/config.ts');

const seen = new Map<string, string>();
let bytesWritten = 0;
let largestCheckpoint = 0;
async function look(): Promise<void> {
  for (const name of await readdir(workDir).catch(() => [] as string[])) {
    const s = await stat(join(workDir, name)).catch(() => undefined);
    if (!s?.isFile()) continue;
    const key = `${s.size}:${s.mtimeMs}`;
    if (seen.get(name) === key) continue;
    seen.set(name, key);
    bytesWritten += s.size;
    if (name.startsWith('checkpoint')) largestCheckpoint = Math.max(largestCheckpoint, s.size);
  }
}

const memory = plannedMemoryBudget(loadConfig(), 'cpu');
const engine = await createFramePackEngine({ modelDir: modelsDir, provider: 'cpu', memoryBudgetGb: memory.budgetGb, resolution });
const sectionMs: number[] = [];
let last = performance.now();
const t0 = last;
let looking = Promise.resolve();
const result = await engine.run({
  imagePath: image, workDir, signal: new AbortController().signal,
  options: jobOptions({ seconds, steps, previews: false, cache: 'none' }),
  onEvent: (e: { type: string }) => {
    if (e.type !== 'section') return;
    const now = performance.now();
    sectionMs.push(now - last);
    last = now;
    looking = looking.then(look);
  },
});
await looking;
await look();
await engine.close();
process.stdout.write(`${JSON.stringify({
  seconds: result.seconds, frames: result.frames, sections: sectionMs.length, wallMs: performance.now() - t0,
  firstSectionMs: sectionMs[0], lastSectionMs: sectionMs.at(-1), bytesWritten, largestCheckpoint,
  peakRssBytes: process.resourceUsage().maxRSS * 1024, timings: result.timings, budgetGb: memory.budgetGb,
})}\n`);
