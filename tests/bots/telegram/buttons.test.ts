// Inline buttons (Cancel, Re-roll, Same seed longer, prompt suggestions), signed callback data,
// /prompt, /queue and /settings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { PromptHelperError, type PromptHelper, type SuggestOptions } from '../../../src/prompting/types.ts';
import { ADMIN, ALICE, BOB, DM_ALICE, GROUP, makeMedia, sendPhoto, startHarness, type Harness, type Media } from './harness.ts';
import type { FakeMessage, RecordedCall } from '../../fakes/telegram/server.ts';

/** A prompt helper that numbers its suggestions, so "Another suggestion" is visibly different. */
class CountingHelper implements PromptHelper {
  readonly configured = true;
  readonly calls: Array<{ bytes: number; variant: number }> = [];
  async suggest(image: Buffer, opts?: SuggestOptions): Promise<string> {
    this.calls.push({ bytes: image.length, variant: opts?.variant ?? 0 });
    if (image.length === 0) throw new PromptHelperError('bad_image', 'empty image');
    return `The subject sways gently, take ${this.calls.length}.`;
  }
}

let media: Media;
let h: Harness;
const helper = new CountingHelper();

beforeAll(async () => {
  media = await makeMedia();
  // Bob's Telegram id is also a Discord admin's id here: that must not make him an admin on Telegram.
  h = await startHarness({ videoPath: media.videoPath, sections: 1, promptHelper: helper, adminIds: [`telegram:${ADMIN.id}`, `discord:${BOB.id}`] });
});

afterAll(async () => {
  await h?.close();
  await rm(media.dir, { recursive: true, force: true });
});

const isFinal = (c: RecordedCall) => /^Job #\d+ \(/.test(String(c.params.caption));
const markupOf = (m: FakeMessage | undefined) => (m?.reply_markup ?? { inline_keyboard: [] }) as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> };
const button = (m: FakeMessage | undefined, label: string) => {
  const found = markupOf(m).inline_keyboard.flat().find((b) => b.text === label);
  if (!found) throw new Error(`no button ${label} on message ${m?.message_id}`);
  return found.callback_data;
};
const answerOf = (queryId: string) => h.api.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === queryId);

/** Starts a job that stays running (held at step 2) and returns its status message. */
async function heldJob(chat = DM_ALICE, from = ALICE) {
  const gate = h.engine.holdAt(2);
  const t0 = h.api.mark();
  sendPhoto(h, from, chat, media.jpeg, '/animate hold steps=4');
  const status = h.api.sentMessage(await h.api.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === chat.id && String(c.params.text).startsWith('Got it') && c.seq >= t0));
  await gate.reached;
  // The Cancel button arrives with the first queue edit.
  await h.api.waitFor(() => markupOf(h.api.message(chat.id, status.message_id)).inline_keyboard.length > 0, 5000, 'cancel button');
  return { status: h.api.message(chat.id, status.message_id)!, gate };
}

describe('telegram buttons', () => {
  it('Cancel by a stranger is refused with an alert; by the owner it cancels', async () => {
    const { status, gate } = await heldJob(GROUP, ALICE);
    const data = button(status, 'Cancel');

    const strangerAnswer = await answerOf(h.api.pressButton(BOB, status, data));
    expect(strangerAnswer.params.show_alert).toBe(true);
    expect(String(strangerAnswer.params.text)).toMatch(/Only the person who started this job/);
    expect((await h.queue.activeForUser('telegram', String(ALICE.id)))[0]?.state).toBe('running');

    const ownerAnswer = await answerOf(h.api.pressButton(ALICE, status, data));
    expect(ownerAnswer.params.show_alert).not.toBe(true);
    await h.api.waitFor(() => /was cancelled/.test(h.api.message(GROUP.id, status.message_id)?.text ?? ''), 5000, 'cancelled text');
    expect(markupOf(h.api.message(GROUP.id, status.message_id)).inline_keyboard).toHaveLength(0);
    expect(await h.queue.activeForUser('telegram', String(ALICE.id))).toHaveLength(0);
    gate.release();
  });

  it('an admin may cancel anyone’s job', async () => {
    const { status, gate } = await heldJob(GROUP, BOB);
    const answer = await answerOf(h.api.pressButton(ADMIN, status, button(status, 'Cancel')));
    expect(answer.params.show_alert).not.toBe(true);
    await h.api.waitFor(() => /was cancelled/.test(h.api.message(GROUP.id, status.message_id)?.text ?? ''), 5000, 'cancelled text');
    gate.release();
  });

  it('a Telegram user whose numeric id equals a Discord admin’s id is not an admin', async () => {
    const { status, gate } = await heldJob(GROUP, ALICE);
    const answer = await answerOf(h.api.pressButton(BOB, status, button(status, 'Cancel')));
    expect(answer.params.show_alert).toBe(true);
    expect(String(answer.params.text)).toMatch(/Only the person who started this job/);
    expect((await h.queue.activeForUser('telegram', String(ALICE.id)))[0]?.state).toBe('running');
    gate.release();
    await h.api.waitFor(() => /is done/.test(h.api.message(GROUP.id, status.message_id)?.text ?? ''), 10_000, 'done');
  });

  it('forged or tampered callback data is rejected', async () => {
    const { status, gate } = await heldJob();
    const data = button(status, 'Cancel');
    const tampered = `${data.slice(0, -1)}${data.endsWith('A') ? 'B' : 'A'}`;
    const answer = await answerOf(h.api.pressButton(ALICE, status, tampered));
    expect(answer.params.show_alert).toBe(true);
    expect(String(answer.params.text)).toMatch(/not valid/);
    const jobId = data.split(':')[1]!;
    const forged = await answerOf(h.api.pressButton(ALICE, status, `c:${jobId}`));
    expect(String(forged.params.text)).toMatch(/not valid/);
    expect((await h.queue.get(jobId))?.state).toBe('running');
    gate.release();
    await h.api.waitFor(() => /is done/.test(h.api.message(DM_ALICE.id, status.message_id)?.text ?? ''), 10_000, 'done');
  });

  it('Re-roll (new seed) and Same seed longer (double length) start new jobs; strangers get an alert', async () => {
    const t0 = h.api.mark();
    sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/animate a boat rocks seconds=2 seed=7');
    const final = h.api.sentMessage(await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t0, 15_000));

    const stranger = await answerOf(h.api.pressButton(BOB, final, button(final, 'Re-roll')));
    expect(stranger.params.show_alert).toBe(true);

    const runs = h.engine.runs.length;
    const t1 = h.api.mark();
    await answerOf(h.api.pressButton(ALICE, final, button(final, 'Same seed longer')));
    const longer = await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t1, 15_000);
    expect(longer.params.caption).toContain('Prompt: a boat rocks');
    expect(longer.params.caption).toContain('seed 7, 4 s');

    const t2 = h.api.mark();
    const reroll = await answerOf(h.api.pressButton(ALICE, final, button(final, 'Re-roll')));
    expect(String(reroll.params.text)).toMatch(/Re-rolling with seed \d+/);
    const rerolled = await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t2, 15_000);
    expect(rerolled.params.caption).toContain('Prompt: a boat rocks');
    expect(rerolled.params.caption).toContain(', 2 s');
    expect(h.engine.runs.length).toBe(runs + 2);
    expect(h.engine.runs.at(-1)!.options.seed).not.toBe(7);
  });
});

describe('telegram end image', () => {
  it('a photo captioned /animate replying to the start photo is an end-frame job; Re-roll keeps its end image', async () => {
    const t0 = h.api.mark();
    const start = sendPhoto(h, ALICE, DM_ALICE, media.jpeg);
    const endFile = h.api.addFile(media.jpeg);
    h.api.userMessage(ALICE, DM_ALICE, { photo: h.api.photoSizes(endFile), caption: '/animate the door closes seconds=2', reply_to_message: start });
    const final = h.api.sentMessage(await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t0, 15_000));
    const first = h.engine.runs.at(-1)!;
    expect(first.endImagePath).toMatch(/end\.jpg$/);
    expect(first.imagePath).not.toBe(first.endImagePath);

    const t1 = h.api.mark();
    await answerOf(h.api.pressButton(ALICE, final, button(final, 'Re-roll')));
    await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t1, 15_000);
    const again = h.engine.runs.at(-1)!;
    expect(again).not.toBe(first);
    expect(again.endImagePath).toMatch(/end\.jpg$/);
    expect(again.endImagePath).not.toBe(first.endImagePath); // a new job with its own copy
  });

  it('an end image with model=f1 is refused with a sentence and nothing is queued', async () => {
    const runs = h.engine.runs.length;
    const t0 = h.api.mark();
    const start = sendPhoto(h, BOB, DM_ALICE, media.jpeg);
    const endFile = h.api.addFile(media.jpeg);
    h.api.userMessage(BOB, DM_ALICE, { photo: h.api.photoSizes(endFile), caption: '/animate model=f1', reply_to_message: start });
    const refusal = await h.api.waitForCall('sendMessage', (c) => c.seq >= t0 && String(c.params.text).startsWith('I could not start that'), 10_000);
    expect(String(refusal.params.text)).toContain('An end image works only with model=original');
    expect(h.engine.runs.length).toBe(runs);
  });
});

describe('telegram /prompt', () => {
  it('suggests a prompt; "Another suggestion" asks for the next alternative; "Animate with this prompt" queues it', async () => {
    const t0 = h.api.mark();
    const photo = sendPhoto(h, BOB, GROUP, media.jpeg);
    h.api.userMessage(ALICE, GROUP, { text: '/prompt@RecurVidBot', reply_to_message: photo });
    const offer = await h.api.waitForCall('editMessageText', (c) => String(c.params.text).startsWith('Suggested prompt') && c.seq >= t0);
    const message = h.api.message(GROUP.id, Number(offer.params.message_id))!;
    expect(message.text).toContain('take 1');

    const stranger = await answerOf(h.api.pressButton(BOB, message, button(message, 'Animate with this prompt')));
    expect(stranger.params.show_alert).toBe(true);

    await answerOf(h.api.pressButton(ALICE, message, button(message, 'Another suggestion')));
    await h.api.waitFor(() => h.api.message(GROUP.id, message.message_id)?.text?.includes('take 2'), 5000, 'second suggestion');
    expect(helper.calls.at(-1)!.variant).toBe(1);

    const t1 = h.api.mark();
    const updated = h.api.message(GROUP.id, message.message_id)!;
    await answerOf(h.api.pressButton(ALICE, updated, button(updated, 'Animate with this prompt')));
    const final = await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t1, 15_000);
    expect(final.params.caption).toContain('Prompt: The subject sways gently, take 2.');
  });

  it('/prompt as a photo caption; and /animate without a prompt uses the helper', async () => {
    const t0 = h.api.mark();
    sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/prompt');
    await h.api.waitForCall('editMessageText', (c) => String(c.params.text).startsWith('Suggested prompt') && c.seq >= t0);
    sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/animate seconds=1');
    const final = await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t0, 15_000);
    expect(final.params.caption).toMatch(/Prompt: The subject sways gently, take \d+\./);
  });
});

describe('telegram /queue and /settings', () => {
  it('/settings saves per-user defaults that /animate then uses; bad values are refused', async () => {
    const reply = async (text: string): Promise<string> => {
      const t = h.api.mark();
      const m = h.api.userMessage(BOB, { id: BOB.id, type: 'private' }, { text });
      const call = await h.api.waitForCall('sendMessage', (c) => (c.params.reply_parameters as { message_id?: number })?.message_id === m.message_id && c.seq >= t);
      return String(call.params.text);
    };
    expect(await reply('/settings')).toMatch(/Your defaults: 5 s, 3 steps, TeaCache on/);
    expect(await reply('/settings seconds=3 teacache=off')).toMatch(/Saved.\nYour defaults: 3 s, 3 steps, TeaCache off/);
    expect(await reply('/settings steps=1000')).toMatch(/Nothing saved:.*steps must be/s);
    expect(await reply('/settings seed=4')).toMatch(/'seed' cannot be saved/);
    const t0 = h.api.mark();
    sendPhoto(h, BOB, { id: BOB.id, type: 'private' }, media.jpeg, '/animate leaves fall');
    const final = await h.api.waitForCall('sendVideo', (c) => isFinal(c) && c.seq >= t0, 15_000);
    expect(final.params.caption).toContain('3 s, 3 steps, TeaCache off');
    expect(await reply('/settings reset')).toMatch(/reset.\nYour defaults: 5 s/);
  });

  it('/settings stores every option it accepts (model, cache, end_strength) and refuses the seed by name', async () => {
    const reply = async (text: string): Promise<string> => {
      const t = h.api.mark();
      const m = h.api.userMessage(ALICE, DM_ALICE, { text });
      const call = await h.api.waitForCall('sendMessage', (c) => (c.params.reply_parameters as { message_id?: number })?.message_id === m.message_id && c.seq >= t);
      return String(call.params.text);
    };
    // The reproduction: this answered "Saved." and stored {}.
    expect(await reply('/settings model=f1 cache=magcache end_strength=0.5')).toMatch(/^Saved\.\nYour defaults: 5 s, 3 steps, MagCache on, model F1, end strength 0\.5\./);
    expect(await reply('/settings')).toMatch(/MagCache on, model F1, end strength 0\.5/);
    expect(await reply('/settings cache=none')).toMatch(/TeaCache off, model F1/);
    expect(await reply('/settings crf=22')).toMatch(/^Saved\.\n.*TeaCache off, model F1, end strength 0\.5, crf 22\./);
    expect(await reply('/settings seed=4 steps=2')).toMatch(/Nothing saved:.*'seed' cannot be saved/s);
    expect(await reply('/settings reset')).toMatch(/reset.\nYour defaults: 5 s, 3 steps, TeaCache on\./);
  });

  it('/queue says when a waiting job is ready ("ready in"), never "starts in" or "unknown"', async () => {
    const { status, gate } = await heldJob();
    try {
      const t0 = h.api.mark();
      sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/animate waiting steps=2');
      await h.api.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === DM_ALICE.id && String(c.params.text).startsWith('Got it') && c.seq >= t0);
      await h.api.waitFor(() => h.queue.stats().queued >= 1, 5000, 'second job queued');
      const t = h.api.mark();
      const m = h.api.userMessage(ALICE, DM_ALICE, { text: '/queue' });
      const call = await h.api.waitForCall('sendMessage', (c) => (c.params.reply_parameters as { message_id?: number })?.message_id === m.message_id && c.seq >= t);
      const text = String(call.params.text);
      expect(text).toMatch(/#\d+: queued, (next in line|position \d+)(, ready in (less than a minute|about \d+ min))?\. "waiting"/);
      expect(text).not.toMatch(/starts in|unknown/);
    } finally {
      gate.release();
    }
    await h.api.waitFor(() => /is done/.test(h.api.message(DM_ALICE.id, status.message_id)?.text ?? ''), 10_000, 'done');
    await h.api.waitFor(() => h.queue.stats().queued === 0 && h.queue.stats().running === 0, 15_000, 'queue empty');
  });

  it('/queue lists the queue and the user’s jobs', async () => {
    const { status, gate } = await heldJob();
    const t = h.api.mark();
    const m = h.api.userMessage(ALICE, DM_ALICE, { text: '/queue' });
    const call = await h.api.waitForCall('sendMessage', (c) => (c.params.reply_parameters as { message_id?: number })?.message_id === m.message_id && c.seq >= t);
    expect(String(call.params.text)).toMatch(/Queue: 1 running, 0 waiting\.\n#\d+: running\. "hold"/);
    gate.release();
    await h.api.waitFor(() => /is done/.test(h.api.message(DM_ALICE.id, status.message_id)?.text ?? ''), 10_000, 'done');
  });
});
