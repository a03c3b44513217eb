// Delivery that never goes silent, on Discord: the final edit with the video retried after a
// passing failure, a smaller video after "too big", and when nothing gets through a status that
// says so with Re-roll, a job record that says "delivery failed" and the video kept on disk.
// A refused progress upload does not stop the job. Real discord.js, fake Discord, real queue.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { createLogger } from '../../../src/log.ts';
import { FakeEngine } from '../../fakes/engines/fake-engine.ts';
import { resolveFfmpeg } from '../../../src/util/ffmpeg.ts';
import { OptionType } from '../../fakes/discord/payloads.ts';
import type { RecordedCall } from '../../fakes/discord/server.ts';
import { pngAttachment, startHarness, waitForMessage, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const uploads = (name: string) => (_m: string, _p: string, c: RecordedCall) => c.files.some((f) => f.filename === name);
const fast = [20, 20];

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ LOG_LEVEL: 'debug' }, { write: (l: string) => void lines.push(l) }) };
}

async function animate(harness: Harness) {
  const att = await pngAttachment(harness.fake);
  const { id } = harness.fake.slash(harness.alice, 'animate', [{ name: 'image', type: OptionType.Attachment, value: att.id }], [att]);
  const final = await waitForMessage(harness.fake, () => harness.fake.originalOf(id), (m) => m.content.includes('is done'), 'the final status', 45_000);
  return final;
}

function jobIdOf(harness: Harness): string {
  return (harness.engine as FakeEngine).calls.at(-1)!.workDir.split('/').at(-2)!; // <dataDir>/jobs/<id>/work
}

describe('discord delivery', () => {
  test('final upload fails (HTTP 500 through all REST retries) once, is retried and arrives; one section, one video', async () => {
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 2 }), retryDelaysMs: fast });
    h.fake.failNext({ match: uploads('recurvid-1.mp4'), status: 500, body: { message: 'Internal Server Error', code: 0 }, times: 4 });
    const final = await animate(h);
    expect(final.attachments.map((a) => a.filename)).toEqual(['recurvid-1.mp4']);
    expect(final.content).not.toMatch(/could not/);
    const withVideo = h.fake.calls.filter((c) => c.files.some((f) => f.filename.endsWith('.mp4')));
    expect(withVideo.map((c) => c.status)).toEqual([500, 500, 500, 500, 200]);
    expect(withVideo.every((c) => c.files.every((f) => f.filename !== 'progress.mp4'))).toBe(true);
  }, 60_000);

  test('final upload fails every time: a clear sentence with Re-roll, the job is "done, delivery failed", the video is kept', async () => {
    const { lines, log } = capture();
    h = await startHarness({ engine: new FakeEngine({ sections: 1, steps: 2 }), retryDelaysMs: fast, log });
    h.fake.failNext({ match: uploads('recurvid-1.mp4'), status: 500, body: { message: 'Internal Server Error', code: 0 }, times: 1000 });
    const final = await animate(h);
    expect(final.attachments).toEqual([]);
    expect(final.content).toContain('I could not attach the video: Discord did not accept the upload (500 Internal Server Error). It is kept on the server; press Re-roll to try again.');
    const labels = (final.components as Array<{ components: Array<{ label: string }> }>)[0]!.components.map((b) => b.label);
    expect(labels).toContain('Re-roll');
    expect(labels).not.toContain('Cancel');
    const job = await h.queue.get(jobIdOf(h));
    expect(job?.state).toBe('done');
    expect(job?.reply.delivery).toBe('failed');
    expect((await stat(job!.result!.videoPath)).size).toBeGreaterThan(0);
    // The log names the method and route that failed, with the interaction token masked.
    const failure = lines.find((l) => l.includes('could not be sent with its video'));
    expect(failure).toMatch(/PATCH \/webhooks\/\d+\/\[token\]\/messages\/@original → 500/);
  }, 60_000);

  test('"too big" from Discord: a smaller version is sent and the status says so', async () => {
    h = await startHarness({ engine: new NoisyVideoEngine(), retryDelaysMs: fast });
    h.fake.failNext({ match: uploads('recurvid-1.mp4'), status: 413, body: { message: 'Request entity too large', code: 40005 }, times: 1 });
    const final = await animate(h);
    expect(final.content).toContain('Discord refused the upload (file too big). I sent a smaller version.');
    const sent = h.fake.calls.filter((c) => c.files.some((f) => f.filename === 'recurvid-1.mp4'));
    expect(sent.map((c) => c.status)).toEqual([413, 200]);
    expect(sent[1]!.files[0]!.bytes.length).toBeLessThan(sent[0]!.files[0]!.bytes.length / 2);
    expect(sent[1]!.files[0]!.bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
  }, 60_000);

  test('a refused progress upload does not stop the job or its final video', async () => {
    const { lines, log } = capture();
    h = await startHarness({ engine: new FakeEngine({ sections: 2, steps: 2, realTime: true, stepMs: 100 }), retryDelaysMs: fast, log });
    h.fake.failNext({ match: uploads('progress.mp4'), status: 400, body: { message: 'Invalid Form Body', code: 50035 }, times: 1 });
    const final = await animate(h);
    expect(final.attachments.map((a) => a.filename)).toEqual(['recurvid-1.mp4']);
    expect(h.fake.calls.filter((c) => c.files.some((f) => f.filename === 'progress.mp4')).map((c) => c.status)).toEqual([400]);
    expect(lines.some((l) => l.includes('progress upload failed') && l.includes('50035'))).toBe(true);
  }, 60_000);
});

/** A one-section FakeEngine whose final video is a real, noisy (hence large) H.264 mp4. */
class NoisyVideoEngine extends FakeEngine {
  constructor() {
    super({ sections: 1, steps: 1 });
  }
  override async run(job: Parameters<FakeEngine['run']>[0]) {
    const result = await super.run(job);
    await promisify(execFile)((await resolveFfmpeg()).path, [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'nullsrc=s=256x192:d=1:r=30,geq=random(1)*255:128:128',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '0', '-pix_fmt', 'yuv420p', result.videoPath,
    ]);
    return result;
  }
}
