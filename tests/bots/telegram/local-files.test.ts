// /animate end to end with a self-hosted Bot API server that runs in another container: getFile
// reports an absolute path under its --dir, TELEGRAM_LOCAL_FILES_MAP says where that folder is
// mounted here, and the bot reads the image from there and queues the job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALICE, DM_ALICE, TOKEN, makeMedia, startHarness, type Harness, type Media } from './harness.ts';

let media: Media;
let h: Harness;
let mounted: string;

beforeAll(async () => {
  media = await makeMedia();
  mounted = await mkdtemp(join(tmpdir(), 'tg-bot-api-dir-'));
  h = await startHarness({
    videoPath: media.videoPath,
    bot: {
      config: {
        TELEGRAM_LOCAL_FILES_MAP: { server: '/var/lib/telegram-bot-api', local: mounted },
        TELEGRAM_DOWNLOAD_TIMEOUT_MS: 10_000,
      },
    },
  });
});

afterAll(async () => {
  await h?.close();
  await rm(media.dir, { recursive: true, force: true });
  await rm(mounted, { recursive: true, force: true });
});

describe('telegram with a local Bot API server', () => {
  it('reads the absolute file path through TELEGRAM_LOCAL_FILES_MAP and queues the job', async () => {
    await mkdir(join(mounted, TOKEN, 'photos'), { recursive: true });
    await writeFile(join(mounted, TOKEN, 'photos', 'file_7.jpg'), media.jpeg);
    const file = h.api.addFile(media.jpeg, { filePath: `/var/lib/telegram-bot-api/${TOKEN}/photos/file_7.jpg` });
    const downloads = h.api.callsOf('downloadFile').length;
    h.api.userMessage(ALICE, DM_ALICE, { photo: h.api.photoSizes(file), caption: '/animate a cat blinks seconds=1 steps=1' });

    await h.api.waitFor(() => h.engine.runs.length > 0, 20_000, 'the job to run');
    expect(Buffer.compare(await readFile(h.engine.runs[0]!.imagePath), media.jpeg)).toBe(0);
    // Read from the mounted folder, not over the HTTP file route.
    expect(h.api.callsOf('downloadFile').length).toBe(downloads);
  }, 30_000);
});
