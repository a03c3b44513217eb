import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runPrompt } from '../../src/cli/commands/prompt.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';

let fake: FakeOpenAI;
let dir: string;
let imagePath: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  dir = await mkdtemp(join(tmpdir(), 'recurvid-prompt-'));
  imagePath = join(dir, 'photo.jpg');
  await writeFile(imagePath, await sharp({ create: { width: 200, height: 150, channels: 3, background: '#884422' } }).jpeg().toBuffer());
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

describe('recurvid prompt', () => {
  it('prints the suggested prompt and exits 0', async () => {
    fake.script({ content: 'Prompt: The man dances powerfully.' });
    const c = capture();
    const code = await runPrompt(imagePath, { ...c.io, env: { PROMPT_HELPER_BASE_URL: fake.baseUrl, PROMPT_HELPER_MODEL: 'llava' } });
    expect(code).toBe(0);
    expect(c.out).toEqual(['The man dances powerfully.']);
    expect(fake.requests.at(-1)!.body.model).toBe('llava');
  });

  it('explains that the helper is not configured and exits 1', async () => {
    const c = capture();
    expect(await runPrompt(imagePath, { ...c.io, env: {} })).toBe(1);
    expect(c.out).toEqual([]);
    expect(c.err[0]).toMatch(/^The prompt helper is not configured\. Set PROMPT_HELPER_BASE_URL/);
  });

  it('reports a missing file and helper errors as one sentence, exit 1', async () => {
    const env = { PROMPT_HELPER_BASE_URL: fake.baseUrl };
    const missing = capture();
    expect(await runPrompt(join(dir, 'nope.png'), { ...missing.io, env })).toBe(1);
    expect(missing.err[0]).toMatch(/^Cannot read the image file/);

    fake.script({ content: "I'm sorry, I can't help with that." });
    const refused = capture();
    expect(await runPrompt(imagePath, { ...refused.io, env })).toBe(1);
    expect(refused.err).toEqual(['The prompt helper did not suggest a prompt for this image. Please write one yourself.']);
  });
});
