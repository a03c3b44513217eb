// The whole product as `recurvid start` wires it: config → tiny model set (built on first use) →
// the real FramePack engine → SQLite job queue → telegraf and discord.js, against the loopback
// fake Bot API and fake Discord.
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
import { FakeDiscord } from '../fakes/discord/server.ts';
import { OptionType } from '../fakes/discord/payloads.ts';

const run = promisify(execFile);
const TOKEN = '424242:E2E-token_abcdefghijklmnopqrstuvwxyz0123';
const ALICE = { id: 7001, first_name: 'Alice', username: 'alice' };
const DM = { id: 7001, type: 'private' as const };

/** codec, pixel format, frame rate and decoded frame count of an mp4, by ffprobe. */
async function probeVideo(bytes: Buffer, dir: string, name: string): Promise<Record<string, string>> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const { stdout } = await run(await resolveFfprobe(), [
    '-v', 'error', '-select_streams', 'v:0', '-count_frames',
    '-show_entries', 'stream=codec_name,pix_fmt,r_frame_rate,nb_read_frames', '-of', 'json', path,
  ]);
  return (JSON.parse(stdout) as { streams: Array<Record<string, string>> }).streams[0]!;
}

// 1 s at window 9 is one section: 9 new latents + the start latent = 10 latent frames → 10·4−3.
const ONE_SECOND = { codec_name: 'h264', pix_fmt: 'yuv420p', r_frame_rate: '30/1', nb_read_frames: '37' };

describe('recurvid start, end to end (tiny models, Telegram and Discord fakes)', () => {
  let api: FakeBotApi;
  let discord: FakeDiscord;
  let app: RunningApp;
  let dir: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rv-e2e-'));
    api = await startFakeBotApi({ token: TOKEN, maxPollSeconds: 1 });
    discord = await FakeDiscord.start();
    const config = loadConfig({
      DISCORD_TOKEN: discord.expectedToken,
      DISCORD_API_BASE: discord.apiBase,
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
    await discord?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a photo with /animate comes back as a real H.264 video with FramePack’s frame count', async () => {
    expect(app.engine?.describe()).toMatch(/tiny model set .*noise/);
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

    expect(await probeVideo(final.files[0]!.bytes, dir, 'telegram.mp4')).toMatchObject(ONE_SECOND);

    const jobs = await app.queue.activeForUser('telegram', String(ALICE.id));
    expect(jobs).toHaveLength(0);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(TOKEN);
  }, 120_000);

  it('/animate on Discord comes back as the same kind of real video, through the same queue', async () => {
    const alice = discord.newUser('alice');
    const png = await sharp(await readFile('assets/sample.jpg')).resize(320, 240).png().toBuffer();
    const att = discord.addAttachment('dancer.png', png, { contentType: 'image/png', width: 320, height: 240 });
    const { id } = discord.slash(alice, 'animate', [
      { name: 'image', type: OptionType.Attachment, value: att.id },
      { name: 'prompt', type: OptionType.String, value: 'the figure spins' },
      { name: 'seconds', type: OptionType.Number, value: 1 },
      { name: 'steps', type: OptionType.Integer, value: 3 },
      { name: 'seed', type: OptionType.Integer, value: 9 },
    ], [att]);
    const deadline = Date.now() + 90_000;
    let final = discord.originalOf(id);
    while (!final?.content.includes('is done')) {
      if (Date.now() > deadline) throw new Error(`no final video; last status: ${JSON.stringify(final?.content)}`);
      await new Promise((r) => setTimeout(r, 100));
      final = discord.originalOf(id);
    }
    expect(final.content).toContain('Prompt: the figure spins');
    expect(final.content).toMatch(/seed 9, 1 s, 3 steps, TeaCache on/);
    const video = discord.attachmentBytes.get(final.attachments.at(-1)!.id)!;
    expect(await probeVideo(video, dir, 'discord.mp4')).toMatchObject(ONE_SECOND);
    expect(logLines.join('')).not.toContain(discord.expectedToken);
  }, 120_000);
});
