// Engine factory for ProcessEngine tests: the FakeEngine (placeholder files, resume checkpoint,
// stops within one step) inside the worker process. `killAtStep` makes the worker SIGKILL itself at
// that step of every run, to prove what a repeatedly crashing engine does.
import { FakeEngine } from './fake-engine.ts';
import type { Engine, EngineJob } from '../../../src/engine/types.ts';
import type { Logger } from '../../../src/log.ts';

export interface FakeFactoryOptions {
  stepMs?: number;
  sections?: number;
  steps?: number;
  killAtStep?: number;
  /** Logged (warn, with the text also under a `token` field) when each run starts. */
  logOnRun?: string;
  /** describe() names these environment variables with their values in the worker process. */
  revealEnv?: string[];
}

export async function createEngine(options: FakeFactoryOptions, log?: Logger): Promise<Engine> {
  const fake = new FakeEngine({
    realTime: true,
    stepMs: options.stepMs ?? 20,
    ...(options.sections !== undefined && { sections: options.sections }),
    ...(options.steps !== undefined && { steps: options.steps }),
  });
  if (options.revealEnv) {
    const names = options.revealEnv;
    const describe = fake.describe.bind(fake);
    fake.describe = () => `${describe()}; env ${names.map((n) => `${n}=${process.env[n] ?? '(unset)'}`).join(' ')}`;
  }
  if (options.logOnRun !== undefined) {
    const text = options.logOnRun;
    const run = fake.run.bind(fake);
    fake.run = (job: EngineJob) => {
      log?.warn({ token: text, detail: { sections: options.sections } }, `engine run starts: ${text}`);
      return run(job);
    };
  }
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
