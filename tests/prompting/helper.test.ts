import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import Keyv from 'keyv';
import { createPromptHelper, cacheKey } from '../../src/prompting/helper.ts';
import { MOTION_PROMPT_TEMPLATE } from '../../src/prompting/template.ts';
import { PromptHelperError } from '../../src/prompting/types.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';

const API_KEY = 'sk-test-SECRET-0123456789';
let fake: FakeOpenAI;
let image: Buffer;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // A 1600×1000 PNG with an alpha channel: the helper must downscale and flatten it to JPEG.
  image = await sharp({ create: { width: 1600, height: 1000, channels: 4, background: { r: 10, g: 200, b: 90, alpha: 0.5 } } })
    .png()
    .toBuffer();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

function helper(extra: Partial<Parameters<typeof createPromptHelper>[0]> = {}) {
  return createPromptHelper({ baseUrl: fake.baseUrl, apiKey: API_KEY, model: 'vision-test', timeoutMs: 5_000, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<PromptHelperError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PromptHelperError);
  return err as PromptHelperError;
}

describe('createPromptHelper against a loopback OpenAI-compatible server', () => {
  it('sends the template as system and the image as a downscaled JPEG data URL, and cleans the answer', async () => {
    fake.script({ content: '**Prompt:** "The girl dances gracefully, with clear movements, full of charm."\n\nThis prompt focuses on dance.' });
    const prompt = await helper().suggest(image);
    expect(prompt).toBe('The girl dances gracefully, with clear movements, full of charm.');

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req.body.model).toBe('vision-test');
    const [system, user] = req.body.messages;
    expect(system).toEqual({ role: 'system', content: MOTION_PROMPT_TEMPLATE });
    expect(MOTION_PROMPT_TEMPLATE).toContain('Describe subject, then motion, then other things.');
    expect(MOTION_PROMPT_TEMPLATE).toContain('prefer to describe it as dancing');
    expect(user!.role).toBe('user');
    const parts = user!.content as Array<{ type: string; image_url?: { url: string } }>;
    const url = parts.find((p) => p.type === 'image_url')!.image_url!.url;
    expect(url.startsWith('data:image/jpeg;base64,')).toBe(true);
    const sent = await sharp(Buffer.from(url.slice('data:image/jpeg;base64,'.length), 'base64')).metadata();
    expect([sent.format, sent.width, sent.height]).toEqual(['jpeg', 768, 480]);
  });

  it('retries once after a 429, waiting as Retry-After says', async () => {
    fake.script({ status: 429, headers: { 'retry-after': '1' } }, { content: 'The robot dances powerfully.' });
    expect(await helper().suggest(image)).toBe('The robot dances powerfully.');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it('retries a 5xx only once and never leaks the server body', async () => {
    fake.script({ status: 503, headers: { 'retry-after-ms': '10' }, body: { error: { message: `upstream exploded ${API_KEY}` } } });
    const err = await failure(helper().suggest(image));
    expect(fake.requests).toHaveLength(2);
    expect(err.code).toBe('failed');
    expect(err.message).toBe('The prompt helper failed (HTTP 503).');
    expect(err.message).not.toContain('exploded');
  });

  it('does not wait out a Retry-After longer than the whole time budget', async () => {
    fake.script({ status: 429, headers: { 'retry-after': '3600' } });
    const started = Date.now();
    const err = await failure(helper({ timeoutMs: 3_000 }).suggest(image));
    expect(err.code).toBe('rate_limited');
    expect(fake.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('times out with a clear sentence, retries included within the budget', async () => {
    fake.script({ hang: true });
    const started = Date.now();
    const err = await failure(helper({ timeoutMs: 1_500 }).suggest(image));
    expect(err.code).toBe('timeout');
    expect(err.message).toBe('The prompt helper timed out.');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(2_700); // a retried timeout would take 3 s
  });

  it('reports refusals, empty answers and structured refusals as refused', async () => {
    for (const reply of [
      { content: "I'm sorry, but I can't help with that request." },
      { content: 'I cannot describe this image.' },
      { content: '   ' },
      { content: null, refusal: 'Refused by policy.' },
    ]) {
      fake.script(reply);
      const err = await failure(helper().suggest(image));
      expect(err.code).toBe('refused');
    }
  });

  it('caches by image and model: a second ask makes no request, fresh asks again', async () => {
    const cache = new Keyv();
    const h = helper({ cache });
    fake.script({ content: 'The dog jumps high.' });
    expect(await h.suggest(image)).toBe('The dog jumps high.');
    expect(await h.suggest(Buffer.from(image))).toBe('The dog jumps high.');
    expect(fake.requests).toHaveLength(1);
    expect(await cache.get(cacheKey(image, 'vision-test'))).toBe('The dog jumps high.');

    fake.script({ content: 'The dog runs in circles.' });
    expect(await h.suggest(image, { fresh: true })).toBe('The dog runs in circles.');
    expect(fake.requests).toHaveLength(2);
    expect(await h.suggest(image)).toBe('The dog runs in circles.'); // fresh refreshed the cache
    expect(fake.requests).toHaveLength(2);

    expect(await helper({ cache, model: 'other-model' }).suggest(image)).toBe('The dog runs in circles.');
    expect(fake.requests).toHaveLength(3); // another model is another key
  });

  it('caches each alternative ("Another suggestion" n) under its own key, apart from the usual one', async () => {
    const cache = new Keyv();
    const h = helper({ cache });
    fake.script({ content: 'The dog jumps high.' });
    expect(await h.suggest(image)).toBe('The dog jumps high.');
    fake.script({ content: 'The dog rolls over.' });
    expect(await h.suggest(image, { variant: 1 })).toBe('The dog rolls over.');
    expect(fake.requests).toHaveLength(2);
    // Asked again (another user, the same image): both answers come from the cache.
    expect(await h.suggest(Buffer.from(image), { variant: 1 })).toBe('The dog rolls over.');
    expect(await h.suggest(image)).toBe('The dog jumps high.');
    expect(fake.requests).toHaveLength(2);
    fake.script({ content: 'The dog wags its tail.' });
    expect(await h.suggest(image, { variant: 2 })).toBe('The dog wags its tail.');
    expect(fake.requests).toHaveLength(3);
  });

  it('works with a keyless local server and sends no Authorization header', async () => {
    fake.script({ content: 'The waves crash and roll.' });
    const h = createPromptHelper({ baseUrl: fake.baseUrl, model: 'llava', timeoutMs: 5_000 });
    expect(h.configured).toBe(true);
    expect(await h.suggest(image)).toBe('The waves crash and roll.');
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('maps a rejected key to a sentence without the key', async () => {
    fake.script({ status: 401, body: { error: { message: `Incorrect API key provided: ${API_KEY}` } } });
    const err = await failure(helper().suggest(image));
    expect(err.code).toBe('failed');
    expect(err.message).not.toContain(API_KEY);
    expect(err.message).toMatch(/API key/);
    expect(fake.requests).toHaveLength(1); // 401 is not retried
  });

  it('reports a cancelled request as cancelled, not as a timeout', async () => {
    fake.script({ hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const err = await failure(helper().suggest(image, { signal: controller.signal }));
    expect(err).toMatchObject({ code: 'failed', message: 'The prompt request was cancelled.' });
  });

  it('is not configured without a base URL or key, and says so', async () => {
    const h = createPromptHelper({ model: 'gpt-4o-mini', timeoutMs: 1_000 });
    expect(h.configured).toBe(false);
    const err = await failure(h.suggest(image));
    expect(err).toMatchObject({ code: 'not_configured', message: 'The prompt helper is not configured.' });
  });

  it('rejects bytes that are not an image before calling the server', async () => {
    const err = await failure(helper().suggest(Buffer.from('not an image')));
    expect(err.code).toBe('bad_image');
    expect(fake.requests).toHaveLength(0);
  });
});
