import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineCancelledError, type EngineEvent, type EngineJob } from '../../src/engine/types.ts';
import { jobOptions } from '../../src/options/job-options.ts';
import { ManualClock } from '../../src/queue/clock.ts';
import { FakeEngine } from '../fakes/engines/fake-engine.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function job(signal = new AbortController().signal): Promise<EngineJob & { events: EngineEvent[] }> {
  dir ??= await mkdtemp(path.join(os.tmpdir(), 'recurvid-fake-'));
  const events: EngineEvent[] = [];
  return {
    imagePath: path.join(dir, 'input.png'),
    workDir: path.join(dir, 'work'),
    options: jobOptions({ seconds: 2, steps: 2, previews: true }),
    signal,
    onEvent: (e) => events.push(e),
    events,
  };
}

describe('FakeEngine', () => {
  it('follows the options like FramePack, writes placeholder sections and a final file', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const engine = new FakeEngine({ clock, stepMs: 50, setupMs: 300, sectionMs: 20 });
    const j = await job();
    const result = await engine.run(j);
    const steps = j.events.filter((e) => e.type === 'step');
    // stepMs is one step's time; elapsedMs counts from the job's start (setup 300, decode 20 per section).
    expect(steps.map((e) => [e.section, e.step, e.sections, e.steps, e.stepMs, e.elapsedMs])).toEqual([
      [1, 1, 2, 2, 50, 350], [1, 2, 2, 2, 50, 400], [2, 1, 2, 2, 50, 470], [2, 2, 2, 2, 50, 520],
    ]);
    expect(steps.every((e) => e.previewPng?.subarray(1, 4).toString() === 'PNG')).toBe(true);
    const sections = j.events.filter((e) => e.type === 'section');
    expect(sections.map((e) => e.videoPath)).toEqual([path.join(j.workDir, 'section-1.mp4'), path.join(j.workDir, 'section-2.mp4')]);
    expect(await readFile(result.videoPath, 'utf8')).toContain('fake mp4');
    expect(j.events.at(-1)).toMatchObject({ type: 'done', videoPath: result.videoPath });
    expect(result.resumed).toBe(false);
    expect(clock.now() - start).toBe(300 + 4 * 50 + 2 * 20);
    expect(engine.calls).toMatchObject([{ outcome: 'done', steps: 4, startSection: 0 }]);
  });

  it('stops within one step when aborted, and resumes after the last finished section', async () => {
    const engine = new FakeEngine({ manual: true });
    const controller = new AbortController();
    const j = await job(controller.signal);
    const running = engine.run(j);
    engine.release(3); // section 1 (2 steps) and one step of section 2
    await engine.waitForHeld();
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(EngineCancelledError);
    expect(engine.calls[0]).toMatchObject({ outcome: 'cancelled', steps: 3 });

    engine.releaseAll();
    const again = await job();
    const result = await engine.run({ ...again, workDir: j.workDir });
    expect(result.resumed).toBe(true);
    expect(engine.calls[1]).toMatchObject({ startSection: 1, steps: 2, outcome: 'done' });
  });

  it('fails the next run on request, after the given number of steps', async () => {
    const engine = new FakeEngine();
    engine.failNextRun('boom', { afterSteps: 1 });
    await expect(engine.run(await job())).rejects.toThrow('boom');
    expect(engine.calls[0]).toMatchObject({ outcome: 'failed', steps: 1 });
    await rm(dir!, { recursive: true, force: true });
    await expect(engine.run(await job())).resolves.toMatchObject({ resumed: false });
  });
});
