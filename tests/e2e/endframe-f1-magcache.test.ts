// Issue 16 end to end, as `recurvid start` wires it (tiny model set with both transformers, the real
// FramePack engine, SQLite queue, telegraf and discord.js against the loopback fakes): an end-frame
// job (Telegram album of two), an F1 job (Discord `model`), a MagCache job (Telegram `cache=magcache`)
// each end with a real video; an end image with F1 is refused with a sentence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
const TOKEN = '434343:E2E-token_abcdefghijklmnopqrstuvwxyz0123';
const BOB = { id: 7101, first_name: 'Bob', username: 'bob' };
const CAROL = { id: 7102, first_name: 'Carol', username: 'carol' };
const DM_BOB = { id: 7101, type: 'private' as const };
const DM_CAROL = { id: 7102, type: 'private' as const };

async function framesOf(bytes: Buffer, dir: string, name: string): Promise<Record<string, string>> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const { stdout } = await run(await resolveFfprobe(), [
    '-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'json', path,
  ]);
  return (JSON.parse(stdout) as { streams: Array<Record<string, string>> }).streams[0]!;
}

// 1 s at window 9 is one section: both directions end with 10 latent frames → 10·4 − 3 = 37 frames.
const ONE_SECOND = { codec_name: 'h264', nb_read_frames: '37' };

describe('end frame, F1 and MagCache jobs, end to end', () => {
  let api: FakeBotApi;
  let discord: FakeDiscord;
  let app: RunningApp;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rv-e2e16-'));
    api = await startFakeBotApi({ token: TOKEN, maxPollSeconds: 1 });
    discord = await FakeDiscord.start();
    const config = loadConfig({
      DISCORD_TOKEN: discord.expectedToken, DISCORD_API_BASE: discord.apiBase,
      TELEGRAM_TOKEN: TOKEN, TELEGRAM_API_ROOT: api.apiRoot,
      DATA_DIR: join(dir, 'data'), MODELS_DIR: join(dir, 'models'), MODEL_SET: 'tiny', LOG_LEVEL: 'warn',
    });
    app = await startApp(config, createLogger(config, { write: () => undefined }));
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await api?.stop();
    await discord?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const photo = async (r: number) => sharp({ create: { width: 320, height: 240, channels: 3, background: { r, g: 120, b: 60 } } }).jpeg().toBuffer();

  async function finalVideo(since: number, chatId: number): Promise<Buffer> {
    const final = await api.waitForCall(
      'sendVideo',
      (c) => c.seq >= since && String(c.params.chat_id) === String(chatId) && c.params.supports_streaming === 'true' && !String(c.params.caption).includes('preview'),
      90_000,
    );
    return final.files[0]!.bytes;
  }

  it('an album of two with the caption /animate makes an end-frame job that ends with a video', async () => {
    expect(app.engine?.describe()).toContain('original + F1 transformers');
    const start = api.addFile(await photo(40));
    const end = api.addFile(await photo(220));
    const t0 = api.mark();
    api.userMessage(BOB, DM_BOB, { media_group_id: 'album-1', photo: api.photoSizes(start, 320, 240), caption: '/animate turns around seconds=1 steps=3' });
    api.userMessage(BOB, DM_BOB, { media_group_id: 'album-1', photo: api.photoSizes(end, 320, 240) });
    expect(await framesOf(await finalVideo(t0, DM_BOB.id), dir, 'endframe.mp4')).toMatchObject(ONE_SECOND);
    // The end image was saved with the job (checked and passed to the engine).
    const jobs = await readdir(join(dir, 'data', 'jobs'));
    const withEnd = [];
    for (const j of jobs) if ((await readdir(join(dir, 'data', 'jobs', j))).some((f) => f.startsWith('end.'))) withEnd.push(j);
    expect(withEnd).toHaveLength(1);
  }, 120_000);

  it('the end image must be an image, checked like the start image (Telegram album, Discord end_image)', async () => {
    const start = api.addFile(await photo(60));
    const t0 = api.mark();
    api.userMessage(BOB, DM_BOB, { media_group_id: 'album-2', photo: api.photoSizes(start, 320, 240), caption: '/animate seconds=1' });
    api.userMessage(BOB, DM_BOB, { media_group_id: 'album-2', video: { file_id: 'v', file_unique_id: 'uv' } });
    const refusal = await api.waitForCall('sendMessage', (c) => c.seq >= t0 && String(c.params.chat_id) === String(DM_BOB.id), 10_000);
    expect(String(refusal.params.text)).toBe('End image: That is a video. Please send a still photo or image file.');

    const erin = discord.newUser('erin');
    const png = await sharp(await photo(10)).png().toBuffer();
    const att = discord.addAttachment('start.png', png, { contentType: 'image/png', width: 320, height: 240 });
    const pdf = discord.addAttachment('end.pdf', Buffer.from('%PDF-1.4'), { contentType: 'application/pdf' });
    const inter = discord.slash(erin, 'animate', [
      { name: 'image', type: OptionType.Attachment, value: att.id },
      { name: 'end_image', type: OptionType.Attachment, value: pdf.id },
    ], [att, pdf]);
    const [answer] = await discord.waitForCalls((c) => c.method === 'POST' && c.path.startsWith(`/interactions/${inter.id}/`), { what: 'the refusal' });
    expect(String((answer!.body?.data as { content: string }).content)).toBe('End image: That file (application/pdf) is not an image. Please attach a PNG, JPEG or WebP still image.');
  }, 60_000);

  it('cache=magcache on Telegram ends with a video', async () => {
    const file = api.addFile(await photo(90));
    const t0 = api.mark();
    api.userMessage(CAROL, DM_CAROL, { photo: api.photoSizes(file, 320, 240), caption: '/animate waves seconds=1 steps=8 cache=magcache' });
    expect(await framesOf(await finalVideo(t0, DM_CAROL.id), dir, 'magcache.mp4')).toMatchObject(ONE_SECOND);
  }, 120_000);

  it('model f1 on Discord ends with a video; an end image with F1 is refused with a sentence', async () => {
    const dana = discord.newUser('dana');
    const png = await sharp(await photo(150)).png().toBuffer();
    const att = discord.addAttachment('start.png', png, { contentType: 'image/png', width: 320, height: 240 });
    const endAtt = discord.addAttachment('end.png', png, { contentType: 'image/png', width: 320, height: 240 });
    const refused = discord.slash(dana, 'animate', [
      { name: 'image', type: OptionType.Attachment, value: att.id },
      { name: 'end_image', type: OptionType.Attachment, value: endAtt.id },
      { name: 'model', type: OptionType.String, value: 'f1' },
    ], [att, endAtt]);
    const [answer] = await discord.waitForCalls((c) => c.method === 'POST' && c.path.startsWith(`/interactions/${refused.id}/`), { what: 'the refusal' });
    expect(String((answer!.body?.data as { content: string }).content)).toMatch(/end image works only with model=original/);

    const { id } = discord.slash(dana, 'animate', [
      { name: 'image', type: OptionType.Attachment, value: att.id },
      { name: 'prompt', type: OptionType.String, value: 'walks forward' },
      { name: 'seconds', type: OptionType.Number, value: 1 },
      { name: 'steps', type: OptionType.Integer, value: 3 },
      { name: 'model', type: OptionType.String, value: 'f1' },
    ], [att]);
    const deadline = Date.now() + 90_000;
    let final = discord.originalOf(id);
    while (!final?.content.includes('is done')) {
      if (Date.now() > deadline) throw new Error(`no final video; last status: ${JSON.stringify(final?.content)}`);
      await new Promise((r) => setTimeout(r, 100));
      final = discord.originalOf(id);
    }
    const video = discord.attachmentBytes.get(final.attachments.at(-1)!.id)!;
    expect(await framesOf(video, dir, 'f1.mp4')).toMatchObject(ONE_SECOND);
  }, 120_000);
});
