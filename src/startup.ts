// What every process start needs before it runs anything: the error that stops it with one sentence,
// the model set folder (the tiny set is built on first use) and the memory budget. The bots' app, a
// GPU worker (`recurvid worker`) and `recurvid animate` all start through these.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { makeTinyModelSet } from './engine/conversion/tiny.ts';
import { planMemoryBudget, readMemoryFacts, type MemoryPlan } from './engine/memory-plan.ts';
import type { ExecutionProvider } from './engine/runtime/session.ts';

export class StartupError extends Error {
  override name = 'StartupError';
}

/** The model set folder; the tiny set is built on first use, any other must exist. */
export async function ensureModelSet(config: Config, log: Logger): Promise<string> {
  const dir = resolve(config.MODELS_DIR, config.MODEL_SET);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  if (config.MODEL_SET !== 'tiny') {
    throw new StartupError(
      `Model set "${config.MODEL_SET}" was not found in ${config.MODELS_DIR}/. Download and convert it with ` +
        `\`npx recurvid models pull --out ${join(config.MODELS_DIR, config.MODEL_SET)}\`, or set MODEL_SET=tiny.`,
    );
  }
  log.info({ dir }, 'building the tiny model set (first use; seeded random weights, the video will be noise)');
  await makeTinyModelSet(dir);
  return dir;
}

/** MEMORY_BUDGET_GB, or a plan from what this machine has for `provider` (see engine/memory-plan.ts). */
export function plannedMemoryBudget(config: Pick<Config, 'MEMORY_BUDGET_GB' | 'GPU_DEVICE_ID'>, provider: ExecutionProvider): MemoryPlan {
  return planMemoryBudget(config.MEMORY_BUDGET_GB, provider, readMemoryFacts(provider, config.GPU_DEVICE_ID));
}
