// The whole product as `recurvid start` wires it: config → tiny model set (built on first use) →
// the real FramePack engine → SQLite job queue → telegraf, against the loopback fake Bot API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startApp, type RunningApp } from '../../src/app.ts';
import { resolveFfprobe } from '../../src/util/ffmpeg.ts';
import { startFakeBotApi, type FakeBotApi } from '../fakes/telegram/server.ts';

const run = promisify(execFile);
const TOKEN = '424242:E2E-token_abcdefghijklmnopqrstuvwxyz0123';
const ALICE = { id: 7001, first_name: 'Alice', username: 'alice' };
const DM = { id: 7001, type: 'private' as const };

describe('recurvid start, end to end (tiny models, Telegram fake)', () => {
  let api: FakeBotApi;
  let app: RunningApp;
  let dir: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rv-e2e-'));
    api = await startFakeBotApi({ token: TOKEN, maxPollSeconds: 1 });
    const config = loadConfig({
      TELEGRAM_TOKEN: TOKEN,
      TELEGRAM_API_ROOT: api.apiRoot,
      DATA_DIR: join(dir, 'data'),
      MODELS_DIR: join(dir, 'models'),
      MODEL_SET: 'tiny',
      LOG_LEVEL: 'debug',
    });
    app = await startApp(config, createLogger(config, { write: (l: string) => void logLines.push(l) }));
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await api?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a photo with /animate comes back as a real H.264 video with FramePack’s frame count', async () => {
    expect(app.engine.describe()).toMatch(/tiny model set .*noise/);
    const jpeg = await sharp(await readFile('assets/sample.jpg')).resize(320, 240).jpeg().toBuffer();
    const file = api.addFile(jpeg);
    const t0 = api.mark();
    api.userMessage(ALICE, DM, { photo: api.photoSizes(file, 320, 240), caption: '/animate the figure dances seconds=1 steps=3 seed=7' });

    const final = await api.waitForCall(
      'sendVideo',
      (c) => c.seq >= t0 && c.params.supports_streaming === 'true' && !String(c.params.caption).includes('preview'),
      90_000,
    );
    expect(final.params.caption).toContain('Prompt: the figure dances');
    expect(final.params.caption).toContain('seed 7, 1 s, 3 steps, TeaCache on');

    const mp4 = join(dir, 'final.mp4');
    await writeFile(mp4, final.files[0]!.bytes);
    const { stdout } = await run(await resolveFfprobe(), [
      '-v', 'error', '-select_streams', 'v:0', '-count_frames',
      '-show_entries', 'stream=codec_name,pix_fmt,r_frame_rate,nb_read_frames', '-of', 'json', mp4,
    ]);
    const stream = (JSON.parse(stdout) as { streams: Array<Record<string, string>> }).streams[0]!;
    // 1 s at window 9 is one section: 9 new latents + the start latent = 10 latent frames → 10·4−3.
    expect(stream).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', r_frame_rate: '30/1', nb_read_frames: '37' });

    const jobs = await app.queue.activeForUser('telegram', String(ALICE.id));
    expect(jobs).toHaveLength(0);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(TOKEN);
  }, 120_000);
});
