import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { ensureModelSet, startApp, StartupError } from '../../src/app.ts';

const quiet = () => createLogger({ LOG_LEVEL: 'silent' });

describe('app wiring', () => {
  it('refuses to start with no bot token, naming both keys', async () => {
    await expect(startApp(loadConfig({}), quiet())).rejects.toThrow(/DISCORD_TOKEN and\/or TELEGRAM_TOKEN/);
  });

  it('names the command that gets a missing real model set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rv-models-'));
    const config = loadConfig({ MODELS_DIR: dir, MODEL_SET: 'framepack' });
    const err = await ensureModelSet(config, quiet()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(/recurvid models pull --out .*framepack/);
  });
});
