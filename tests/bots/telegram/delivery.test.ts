// Delivery that never goes silent: the final upload retried after a passing failure, a smaller
// version after "too big", a document when the video is refused, and when nothing gets through a
// status message that says so with Re-roll, a job record that says "delivery failed" and the
// video kept on disk. Previews that fail do not stop the job. Real bot, fake Bot API, real queue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm, stat } from 'node:fs/promises';
import { ALICE, DM_ALICE, GROUP, makeMedia, sendPhoto, startHarness, type Harness, type Media } from './harness.ts';
import type { FakeMessage, RecordedCall } from '../../fakes/telegram/server.ts';
import { MAX_PROMPT_CHARS } from '../../../src/options/fields.ts';

let media: Media;

beforeAll(async () => {
  media = await makeMedia();
});

afterAll(async () => {
  await rm(media.dir, { recursive: true, force: true });
});

const isFinal = (c: RecordedCall) => /^Job #\d+ \(/.test(String(c.params.caption));
const fast = { retryDelaysMs: [20, 20] };

async function submit(h: Harness, chat = DM_ALICE, caption = '/animate the sea steps=2 seconds=1') {
  const mark = h.api.mark();
  const request = sendPhoto(h, ALICE, chat, media.jpeg, caption);
  const status = h.api.sentMessage(await h.api.waitForCall('sendMessage', (c) => c.seq >= mark && Number(c.params.chat_id) === chat.id));
  return { mark, request, status };
}

const statusText = (h: Harness, chatId: number, status: FakeMessage) => h.api.message(chatId, status.message_id)?.text ?? '';
const statusButtons = (h: Harness, chatId: number, status: FakeMessage) =>
  JSON.stringify(h.api.message(chatId, status.message_id)?.reply_markup ?? null);

describe('telegram delivery', () => {
  it('final upload fails once (HTTP 500), is retried and arrives; a one-section job posts one video', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 1, bot: fast });
    try {
      h.api.inject('sendVideo', 500, 'Internal Server Error: try again', { times: 1 });
      const { mark, request, status } = await submit(h, GROUP);
      await h.api.waitFor(() => /is done/.test(statusText(h, GROUP.id, status)), 20_000, 'done text');
      const uploads = h.api.calls.filter((c) => c.seq >= mark && (c.method === 'sendVideo' || c.method === 'editMessageMedia' || c.method === 'sendDocument'));
      expect(uploads.map((c) => `${c.method}:${c.ok}`)).toEqual(['sendVideo:false', 'sendVideo:true']);
      expect(isFinal(uploads[1]!)).toBe(true);
      // In a group too, the video answers the request (reply_parameters survived the multipart body).
      expect(uploads[1]!.params.reply_parameters).toEqual({ message_id: request.message_id, allow_sending_without_reply: true });
      expect(statusText(h, GROUP.id, status)).not.toMatch(/could not/);
      expect(h.logs.some((l) => l.includes('sendVideo failed, retrying'))).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('a final upload that hangs is abandoned after the upload timeout and retried', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 1, bot: { ...fast, uploadTimeoutMs: 400 } });
    try {
      h.api.stall('sendVideo', 1);
      const { mark, status } = await submit(h);
      await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, status)), 20_000, 'done text');
      const sends = h.api.calls.filter((c) => c.seq >= mark && c.method === 'sendVideo');
      expect(sends.map((c) => c.ok)).toEqual([false, true]);
      expect(sends[1]!.at - sends[0]!.startedAt).toBeGreaterThanOrEqual(400);
      expect(statusText(h, DM_ALICE.id, status)).not.toMatch(/could not/);
    } finally {
      await h.close();
    }
  });

  it('final upload fails every time: a clear sentence with Re-roll, the job is "done, delivery failed", the video is kept', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 1, bot: fast });
    try {
      h.api.inject('sendVideo', 502, 'Bad Gateway', { times: 100 });
      h.api.inject('sendDocument', 502, 'Bad Gateway', { times: 100 });
      const { mark, status } = await submit(h);
      await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, status)), 20_000, 'done text');
      const text = statusText(h, DM_ALICE.id, status);
      expect(text.split('\n')[1]).toBe('I could not send the video: Telegram refused the upload (502 Bad Gateway). It is kept on the server; press Re-roll to try again.');
      expect(statusButtons(h, DM_ALICE.id, status)).toContain('Re-roll');
      expect(statusButtons(h, DM_ALICE.id, status)).not.toContain('Cancel');
      // Each upload was tried three times (two retries) before giving up.
      expect(h.api.calls.filter((c) => c.seq >= mark && c.method === 'sendVideo')).toHaveLength(3);
      expect(h.api.calls.filter((c) => c.seq >= mark && c.method === 'sendDocument')).toHaveLength(3);
      expect(await h.queue.activeForUser('telegram', String(ALICE.id))).toHaveLength(0);
      const jobId = h.engine.runs.at(-1)!.workDir.split('/').at(-2)!; // <dataDir>/jobs/<id>/work
      const job = await h.queue.get(jobId);
      expect(job?.state).toBe('done');
      expect(job?.reply.delivery).toBe('failed');
      expect((await stat(job!.result!.videoPath)).size).toBeGreaterThan(0);
      // The log names the Bot API method that failed.
      expect(h.logs.some((l) => l.includes('"method":"sendDocument"') && l.includes('nothing was delivered'))).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('"file too big" from Telegram: a smaller version is sent and the status says so', async () => {
    const h = await startHarness({ videoPath: media.bigVideoPath, sections: 1, bot: fast });
    try {
      h.api.inject('sendVideo', 413, 'Request Entity Too Large', { times: 1 });
      const { mark, status } = await submit(h);
      await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, status)), 30_000, 'done text');
      const sends = h.api.calls.filter((c) => c.seq >= mark && c.method === 'sendVideo');
      expect(sends.map((c) => c.ok)).toEqual([false, true]);
      expect(sends[1]!.files[0]!.bytes.length).toBeLessThan(sends[0]!.files[0]!.bytes.length / 2);
      expect(statusText(h, DM_ALICE.id, status)).toContain('Telegram refused the upload (file too big). I sent a smaller version.');
    } finally {
      await h.close();
    }
  });

  it('a video Telegram refuses as a video goes out as a document', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 1, bot: fast });
    try {
      h.api.inject('sendVideo', 400, 'Bad Request: wrong video dimensions', { times: 1 });
      const { mark, status } = await submit(h);
      await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, status)), 20_000, 'done text');
      const doc = h.api.calls.find((c) => c.seq >= mark && c.method === 'sendDocument')!;
      expect(doc.ok).toBe(true);
      expect(doc.files).toHaveLength(1);
      expect(h.api.calls.filter((c) => c.seq >= mark && c.method === 'sendVideo')).toHaveLength(1); // a 400 is not retried
      expect(statusText(h, DM_ALICE.id, status)).toContain('so I sent it as a file.');
    } finally {
      await h.close();
    }
  });

  it('a prompt at the 1000-character cap is delivered: every status edit fits 4096, the caption fits 1024 and keeps its settings', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 2 });
    try {
      const prompt = `${`${'the waves roll in slowly, '.repeat(40)}`.slice(0, MAX_PROMPT_CHARS - 3).trim()} go`;
      expect(prompt.length).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
      expect(prompt.length).toBeGreaterThan(MAX_PROMPT_CHARS - 5);
      const { mark, status } = await submit(h, DM_ALICE, `/animate ${prompt}`);
      await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, status)), 20_000, 'done text');
      const sent = h.api.calls.filter((c) => c.seq >= mark && c.method !== 'getUpdates');
      // The fake refuses text over 4096 and captions over 1024, as Telegram does: none was refused.
      expect(sent.filter((c) => !c.ok).map((c) => `${c.method}: ${String(c.description ?? '')}`)).toEqual([]);
      expect(statusText(h, DM_ALICE.id, status)).toContain(`Prompt: ${prompt}\n`);
      const final = sent.find((c) => c.method === 'sendVideo' && isFinal(c))!;
      const caption = String(final.params.caption);
      expect(caption.length).toBeLessThanOrEqual(1024);
      // The prompt was shortened to make room, not the settings line after it.
      expect(caption).toMatch(/\nPrompt: the waves roll in slowly, .*…\nSettings: /);
    } finally {
      await h.close();
    }
  });

  it('a longer prompt is refused with a sentence and no job', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 1 });
    try {
      const mark = h.api.mark();
      sendPhoto(h, ALICE, DM_ALICE, media.jpeg, `/animate ${'wave '.repeat(800).trim()}`);
      const answer = h.api.sentMessage(await h.api.waitForCall('sendMessage', (c) => c.seq >= mark && Number(c.params.chat_id) === DM_ALICE.id));
      expect(answer.text).toMatch(/^I could not start that:\n• The prompt is 3999 characters; the limit is 1000\. Please shorten it\./);
      expect(h.engine.runs).toHaveLength(0);
    } finally {
      await h.close();
    }
  });

  it('a failed preview upload does not stop the job or its final video', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 2, bot: fast });
    try {
      h.api.inject('sendVideo', 400, 'Bad Request: preview refused', { times: 1 });
      const { mark, status } = await submit(h);
      await h.api.waitForCall('sendVideo', (c) => c.seq >= mark && isFinal(c), 20_000);
      await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, status)), 20_000, 'done text');
      const first = h.api.calls.find((c) => c.seq >= mark && c.method === 'sendVideo')!;
      expect(first.ok).toBe(false);
      expect(String(first.params.caption)).toContain('the video so far, after section 1/2');
      expect(h.logs.some((l) => l.includes('preview upload failed') && l.includes('"method":"sendVideo"'))).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('telegram section order', () => {
  it('the first preview of an F1 job says the start comes first, as its status does; the original model says the end', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 2, bot: fast });
    try {
      for (const [model, expected, wrong] of [['f1', 'FramePack-F1 makes the start', 'makes the end'], ['original', 'FramePack makes the end', 'makes the start']] as const) {
        const { mark, status } = await submit(h, DM_ALICE, `/animate the sea steps=2 seconds=1 model=${model}`);
        await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, status)), 20_000, 'done text');
        const first = h.api.calls.find((c) => c.seq >= mark && c.method === 'sendVideo')!;
        expect(String(first.params.caption)).toContain('the video so far, after section 1/2');
        expect(String(first.params.caption)).toContain(expected);
        expect(String(first.params.caption)).not.toContain(wrong);
      }
    } finally {
      await h.close();
    }
  });
});

describe('telegram ETA wording', () => {
  it('a queued job says when its video is ready ("ready in"), the running one what is left; never "starts in"', async () => {
    const h = await startHarness({ videoPath: media.videoPath, sections: 2, bot: fast });
    try {
      // A first run gives the queue measured timings for this size/steps/TeaCache key.
      const first = await submit(h, DM_ALICE, '/animate warm up steps=3 seconds=1');
      await h.api.waitFor(() => /is done/.test(statusText(h, DM_ALICE.id, first.status)), 20_000, 'first job done');

      const gate = h.engine.holdAt(2);
      const running = await submit(h, DM_ALICE, '/animate running steps=3 seconds=1');
      await gate.reached;
      const mark = h.api.mark();
      const bob = { id: 102, first_name: 'Bob' };
      sendPhoto(h, bob, { id: 102, type: 'private' }, media.jpeg, '/animate waiting steps=3 seconds=1');
      const queuedStatus = h.api.sentMessage(await h.api.waitForCall('sendMessage', (c) => c.seq >= mark && Number(c.params.chat_id) === 102));
      await h.api.waitFor(() => /is queued/.test(statusText(h, 102, queuedStatus)), 5000, 'queued text');
      expect(statusText(h, 102, queuedStatus).split('\n')[0]).toMatch(/^Job #\d+ is queued \(position 2, ready in (less than a minute|about \d+ min)\)\.$/);
      await h.api.waitFor(() => /step 1\/3/.test(statusText(h, DM_ALICE.id, running.status)), 5000, 'running text');
      const runningText = statusText(h, DM_ALICE.id, running.status);
      expect(runningText.split('\n')[0]).toMatch(/^Job #\d+ is sampling section 1\/2, step 1\/3\.$/);
      const all = h.api.callsOf('editMessageText').map((c) => String(c.params.text));
      expect(all.some((t) => /starts in/.test(t))).toBe(false);
      gate.release();
      await h.api.waitFor(() => /is done/.test(statusText(h, 102, queuedStatus)), 20_000, 'queued job done');
    } finally {
      await h.close();
    }
  });
});
