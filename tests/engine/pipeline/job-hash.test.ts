// The resume hash covers the new job options: model, cache mode, end image (bytes) and strength.
// A checkpoint written for one never resumes another.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobHash } from '../../../src/engine/pipeline/checkpoint.ts';
import { jobOptions, storedJobOptions } from '../../../src/options/job-options.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recurvid-hash-'));
  await writeFile(join(dir, 'start.png'), 'start');
  await writeFile(join(dir, 'end-a.png'), 'end a');
  await writeFile(join(dir, 'end-b.png'), 'end b');
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('job hash', () => {
  it('differs by model, cache mode, end image and end strength; previews do not count', async () => {
    const start = join(dir, 'start.png');
    const h = (o: Parameters<typeof jobOptions>[0], end?: string) => jobHash(start, jobOptions(o), 'set@1', 640, end);
    const base = await h({});
    const variants = await Promise.all([
      h({ model: 'f1' }), h({ cache: 'magcache' }), h({ cache: 'none' }), h({}, join(dir, 'end-a.png')), h({}, join(dir, 'end-b.png')),
      h({ endFrameStrength: 0.5 }, join(dir, 'end-a.png')),
    ]);
    expect(new Set([base, ...variants]).size).toBe(1 + variants.length);
    expect(await h({ previews: false })).toBe(base);
  });

  it('names the values, not the order a version wrote them in: a record from before MagCache hashes as its upgraded form', async () => {
    const start = join(dir, 'start.png');
    const options = jobOptions({ cache: 'none' });
    const reversed = Object.fromEntries(Object.entries(options).reverse()) as typeof options;
    const old = storedJobOptions({ ...Object.fromEntries(Object.entries(options).filter(([k]) => k !== 'cache' && k !== 'model' && k !== 'endFrameStrength')), teacache: false });
    expect(await jobHash(start, reversed, 'set@1', 640)).toBe(await jobHash(start, options, 'set@1', 640));
    expect(await jobHash(start, old, 'set@1', 640)).toBe(await jobHash(start, options, 'set@1', 640));
  });
});
