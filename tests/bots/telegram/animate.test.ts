// /animate end to end: the real telegraf bot, the fake Bot API, a real queue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { ALICE, BOB, DM_ALICE, GROUP, TOKEN, makeMedia, sendPhoto, startHarness, type Harness, type Media } from './harness.ts';

let media: Media;
let h: Harness;

beforeAll(async () => {
  media = await makeMedia();
  h = await startHarness({ videoPath: media.videoPath, sections: 3 });
});

afterAll(async () => {
  await h?.close();
  await rm(media.dir, { recursive: true, force: true });
});

const finalVideoIn = (chatId: number, after = 0) =>
  h.api.waitForCall('sendVideo', (c) => Number(c.params.chat_id) === chatId && /^Job #\d+ \(/.test(String(c.params.caption)) && c.seq >= after, 20_000);

describe('telegram /animate', () => {
  it('photo with caption: status message, progress edits, section previews, final video with settings', async () => {
    const gate = h.engine.holdAt(2);
    const t0 = h.api.mark();
    const request = sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/animate a cat turns its head seconds=2 seed=42 steps=3 teacache=off');

    const status = await h.api.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === DM_ALICE.id && c.seq >= t0);
    expect((status.params.reply_parameters as { message_id: number }).message_id).toBe(request.message_id);
    // Paused after step 1: the progress bar for it must reach the status message.
    await gate.reached;
    await h.api.waitForCall('editMessageText', (c) => c.seq >= t0 && /section 1\/3, step 1\/3/.test(String(c.params.text)));
    gate.release();

    const final = await finalVideoIn(DM_ALICE.id, t0);
    expect(final.params.supports_streaming).toBe('true');
    expect(final.params.caption).toContain('Prompt: a cat turns its head');
    expect(final.params.caption).toContain('seed 42, 2 s, 3 steps, TeaCache off');
    expect(final.files).toHaveLength(1);
    expect(final.files[0]!.bytes.subarray(4, 8).toString('latin1')).toBe('ftyp'); // a real mp4 went up
    const buttons = JSON.stringify(final.params.reply_markup);
    expect(buttons).toContain('Re-roll');
    expect(buttons).toContain('Same seed longer');

    // The status message went through queue position → progress bar → done, by edits.
    const statusId = h.api.sentMessage(status).message_id;
    const edits = h.api.callsOf('editMessageText').filter((c) => Number(c.params.message_id) === statusId && c.ok);
    const texts = edits.map((c) => String(c.params.text));
    expect(texts.some((t) => /queued \((next in line|position \d+)/.test(t))).toBe(true);
    expect(texts.some((t) => /[█░]{20} \d+%/.test(t) && /section 1\/3, step 1\/3/.test(t))).toBe(true);
    expect(texts.some((t) => /end of the video first/.test(t))).toBe(true);
    await h.api.waitFor(() => /Job #\d+ is done/.test(h.api.message(DM_ALICE.id, statusId)?.text ?? ''), 5000, 'done text');
    // No edit was sent that would change nothing (the fake answers those with "message is not modified").
    expect(h.api.calls.filter((c) => /not modified/.test(c.description ?? ''))).toHaveLength(0);
    // The Cancel button is gone once the job is finished.
    expect(JSON.stringify(h.api.message(DM_ALICE.id, statusId)?.reply_markup)).not.toContain('Cancel');

    // Previews: a video message for section 1, then edited in place for section 2; none for the
    // last section (its video is the final video, posted once).
    const previews = h.api.calls.filter(
      (c) => c.seq >= t0 && ((c.method === 'sendVideo' && String(c.params.caption).includes('preview')) || c.method === 'editMessageMedia'),
    );
    expect(previews.map((c) => c.method)).toEqual(['sendVideo', 'editMessageMedia']);
    expect(String(previews[0]!.params.caption)).toContain('end of the video first');
    const media2 = previews[1]!.params.media as { type: string; caption: string; supports_streaming: boolean };
    expect(media2.type).toBe('video');
    expect(media2.caption).toContain('section 2/3');
    // The preview answers the status message, with reply_parameters intact in the multipart body.
    expect(previews[0]!.files).toHaveLength(1);
    expect(previews[0]!.params.reply_parameters).toEqual({ message_id: statusId, allow_sending_without_reply: true });
    // The final video answers the user's request.
    expect(final.params.reply_parameters).toEqual({ message_id: request.message_id, allow_sending_without_reply: true });
    expect(String(final.params.caption)).toMatch(/^Job #\d+ \(2\.0 s\)/);
    expect(previews[1]!.files).toHaveLength(1);

    // The image went through getFile and the file route.
    expect(h.api.callsOf('getFile').length).toBeGreaterThan(0);
    expect(h.api.callsOf('downloadFile').some((c) => c.ok)).toBe(true);
    // The engine got the prompt and the options.
    const ran = h.engine.runs.at(-1)!;
    expect(ran.options).toMatchObject({ prompt: 'a cat turns its head', seconds: 2, seed: 42, steps: 3, cache: 'none' });
  });

  it('published its commands and never logged the token', async () => {
    const commands = h.api.callsOf('setMyCommands')[0]!.params.commands as Array<{ command: string }>;
    expect(commands.map((c) => c.command)).toEqual(expect.arrayContaining(['animate', 'prompt', 'queue', 'settings', 'help']));
    expect(h.api.callsOf('deleteWebhook')).toHaveLength(1);
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join('\n')).not.toContain(TOKEN);
    expect(h.logs.join('\n')).not.toContain(TOKEN.split(':')[1]!);
  });

  it('reply /animate@BotName to a photo in a group', async () => {
    const t0 = h.api.mark();
    const photo = sendPhoto(h, BOB, GROUP, media.jpeg);
    h.api.userMessage(ALICE, GROUP, { text: '/animate@RecurVidBot waves roll --seconds 3', reply_to_message: photo });
    const final = await finalVideoIn(GROUP.id, t0);
    expect(final.params.caption).toContain('Prompt: waves roll');
    expect(final.params.caption).toContain('3 s');
    expect(h.engine.runs.at(-1)!.options.seconds).toBe(3);
    // The job belongs to whoever asked, not to who posted the photo.
    expect(await h.queue.activeForUser('telegram', String(BOB.id))).toHaveLength(0);
  });

  it('an image sent as a document', async () => {
    const t0 = h.api.mark();
    const file = h.api.addFile(media.png, { ext: 'png' });
    h.api.userMessage(ALICE, DM_ALICE, {
      document: { file_id: file.file_id, file_unique_id: file.file_unique_id, file_name: 'sky.png', mime_type: 'image/png', file_size: file.file_size },
      caption: '/animate clouds drift',
    });
    const final = await finalVideoIn(DM_ALICE.id, t0);
    expect(final.params.caption).toContain('Prompt: clouds drift');
  });

  it('commands addressed to another bot are ignored', async () => {
    const before = h.api.callsOf('sendMessage').length;
    const photo = sendPhoto(h, BOB, GROUP, media.jpeg);
    h.api.userMessage(ALICE, GROUP, { text: '/animate@SomeOtherBot hello', reply_to_message: photo });
    h.api.userMessage(ALICE, GROUP, { text: '/help@RecurVidBot' });
    await h.api.waitForCall('sendMessage', (c) => String(c.params.text).includes('I animate still images'));
    expect(h.api.callsOf('sendMessage').length).toBe(before + 1);
  });
});
