// Engine factory for ProcessEngine tests: the FakeEngine (placeholder files, resume checkpoint,
// stops within one step) inside the worker process. `killAtStep` makes the worker SIGKILL itself at
// that step of every run, to prove what a repeatedly crashing engine does.
import { FakeEngine } from './fake-engine.ts';
import type { Engine, EngineJob } from '../../../src/engine/types.ts';

export interface FakeFactoryOptions {
  stepMs?: number;
  sections?: number;
  steps?: number;
  killAtStep?: number;
}

export async function createEngine(options: FakeFactoryOptions): Promise<Engine> {
  const fake = new FakeEngine({
    realTime: true,
    stepMs: options.stepMs ?? 20,
    ...(options.sections !== undefined && { sections: options.sections }),
    ...(options.steps !== undefined && { steps: options.steps }),
  });
  if (options.killAtStep === undefined) return fake;
  const killAt = options.killAtStep;
  return {
    describe: () => `${fake.describe()}, dies at step ${killAt}`,
    close: () => fake.close(),
    run: (job: EngineJob) =>
      fake.run({
        ...job,
        onEvent: (event) => {
          job.onEvent(event);
          if (event.type === 'step' && event.step === killAt) process.kill(process.pid, 'SIGKILL');
        },
      }),
  };
}
