// Queue limits are checked before any costly work: a user at their job limit is refused with the
// queue's own sentence before the image is fetched (getFile, download) or the prompt helper asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { countingHelper } from '../../fakes/prompting/counting-helper.ts';
import { ALICE, DM_ALICE, makeMedia, sendPhoto, startHarness, type Harness, type Media } from './harness.ts';

let media: Media;
let h: Harness;
const helper = countingHelper();

beforeAll(async () => {
  media = await makeMedia();
  h = await startHarness({ videoPath: media.videoPath, sections: 1, perUser: 1, promptHelper: helper });
});

afterAll(async () => {
  await h?.close();
  await rm(media.dir, { recursive: true, force: true });
});

describe('telegram admission before downloads', () => {
  it('a user at the job limit gets the queue sentence; nothing is fetched and the helper is not asked', async () => {
    const gate = h.engine.holdAt(2);
    sendPhoto(h, ALICE, DM_ALICE, media.jpeg, '/animate hold steps=4');
    await gate.reached;

    const t0 = h.api.mark();
    sendPhoto(h, ALICE, DM_ALICE, media.png, '/animate');
    const status = await h.api.waitForCall('sendMessage', (c) => Number(c.params.chat_id) === DM_ALICE.id && String(c.params.text).startsWith('Got it') && c.seq >= t0);
    const statusId = h.api.sentMessage(status).message_id;
    await h.api.waitFor(() => /already have a job/.test(h.api.message(DM_ALICE.id, statusId)?.text ?? ''), 5000, 'refusal');
    expect(h.api.message(DM_ALICE.id, statusId)?.text).toMatch(/^You already have a job running \(#1\)\. Cancel it or wait\.$/);
    const fetched = h.api.calls.filter((c) => c.seq >= t0 && (c.method === 'getFile' || c.method === 'downloadFile'));
    expect(fetched).toHaveLength(0);
    expect(helper.asked).toBe(0);
    gate.release();
  });
});
