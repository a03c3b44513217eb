// The restart policy of an idle engine process that died: doubling delays, a cap, a reset once healthy.
import { describe, expect, it } from 'vitest';
import { RespawnBackoff } from '../../src/queue/engine-process/respawn-backoff.ts';
import { engineEnvironment } from '../../src/queue/engine-process/child-env.ts';

describe('RespawnBackoff', () => {
  it('doubles from the base up to the cap while the process keeps dying', () => {
    let now = 0;
    const b = new RespawnBackoff({ baseMs: 1000, maxMs: 8000, healthyAfterMs: 60_000 }, () => now);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      b.started();
      now += 5000; // up for 5 s, then dead again
      delays.push(b.nextDelayMs());
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('starts again from the base after a process stayed up for the healthy period', () => {
    let now = 0;
    const b = new RespawnBackoff({ baseMs: 500, maxMs: 60_000, healthyAfterMs: 60_000 }, () => now);
    b.started();
    expect(b.nextDelayMs()).toBe(500);
    b.started();
    expect(b.nextDelayMs()).toBe(1000);
    b.started();
    now += 60_000;
    expect(b.nextDelayMs()).toBe(500);
  });
});

describe('engineEnvironment', () => {
  it('keeps system, GPU and thread variables and drops every credential', () => {
    const env = engineEnvironment(
      {
        PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', LC_ALL: 'C', XDG_RUNTIME_DIR: '/tmp/x', CUDA_HOME: '/cuda', VK_ICD_FILENAMES: 'lvp.json', OMP_NUM_THREADS: '2', FFMPEG_PATH: '/f',
        DISCORD_TOKEN: 'd', TELEGRAM_TOKEN: 't', PROMPT_HELPER_API_KEY: 'k', OPENAI_API_KEY: 'o', REDIS_URL: 'redis://:pw@h', AWS_SECRET_ACCESS_KEY: 'a', DATA_DIR: '/data',
      },
      { CUDA_VISIBLE_DEVICES: '1' },
    );
    expect(Object.keys(env).sort()).toEqual(['CUDA_HOME', 'CUDA_VISIBLE_DEVICES', 'FFMPEG_PATH', 'HOME', 'LANG', 'LC_ALL', 'OMP_NUM_THREADS', 'PATH', 'VK_ICD_FILENAMES', 'XDG_RUNTIME_DIR']);
  });
});
