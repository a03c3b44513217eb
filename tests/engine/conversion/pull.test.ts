import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planDownloads, pullModelSet } from '../../../src/engine/conversion/pull.ts';
import type { ConvertModelSetOptions } from '../../../src/engine/conversion/convert.ts';

/** A loopback stand-in for the few Hugging Face Hub endpoints @huggingface/hub calls. */
class FakeHub {
  readonly repos = new Map<string, Map<string, Buffer>>();
  readonly ranges: Array<{ path: string; range: string | undefined }> = [];
  readonly auth = new Set<string>();
  /** Paths whose next body response is cut after this many bytes. */
  readonly cut = new Map<string, number>();
  private server: Server | undefined;
  url = '';

  add(repo: string, path: string, data: Buffer): void {
    if (!this.repos.has(repo)) this.repos.set(repo, new Map());
    this.repos.get(repo)!.set(path, data);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.headers.authorization) this.auth.add(req.headers.authorization);
      const u = new URL(req.url ?? '/', 'http://x');
      const tree = u.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/main(?:\/(.*))?$/);
      if (tree) {
        const files = this.repos.get(tree[1]!);
        if (!files) return void res.writeHead(404).end();
        const prefix = tree[2] ? `${decodeURIComponent(tree[2])}/` : '';
        const list = [...files].filter(([p]) => p.startsWith(prefix)).map(([p, d]) => ({
          type: 'file', path: p, size: p.endsWith('.safetensors') ? 134 : d.length, oid: createHash('sha1').update(d).digest('hex'),
          ...(p.endsWith('.safetensors') ? { lfs: { oid: createHash('sha256').update(d).digest('hex'), size: d.length, pointerSize: 134 } } : {}),
        }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
        return;
      }
      const file = u.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/);
      const data = file ? this.repos.get(file[1]!)?.get(decodeURIComponent(file[2]!)) : undefined;
      if (!file || !data) return void res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
      const path = decodeURIComponent(file[2]!);
      const range = req.headers.range;
      const etag = `"${createHash('sha256').update(data).digest('hex')}"`;
      let start = 0;
      let end = data.length - 1;
      const m = range?.match(/^bytes=(\d+)-(\d*)$/);
      if (m) { start = Number(m[1]); end = m[2] ? Math.min(Number(m[2]), end) : end; }
      const body = data.subarray(start, end + 1);
      if (range !== 'bytes=0-0') this.ranges.push({ path, range });
      res.writeHead(m ? 206 : 200, {
        ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream',
        ...(m ? { 'Content-Range': `bytes ${start}-${end}/${data.length}` } : {}),
      });
      const cutAt = range === 'bytes=0-0' ? undefined : this.cut.get(path);
      if (cutAt === undefined) return void res.end(body);
      this.cut.delete(path);
      res.write(body.subarray(0, cutAt));
      setTimeout(() => res.socket?.destroy(), 50); // the connection drops mid-file
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

const HY = 'hunyuanvideo-community/HunyuanVideo';
const RX = 'lllyasviel/flux_redux_bfl';
const FP = 'lllyasviel/FramePackI2V_HY';
const BIG = 'text_encoder/model-00001-of-00002.safetensors';

describe('recurvid models pull (loopback fake hub)', () => {
  const hub = new FakeHub();
  const big = randomBytes(300_000);
  let dir: string;

  beforeAll(async () => {
    const j = (o: unknown) => Buffer.from(JSON.stringify(o));
    for (const f of ['text_encoder', 'text_encoder_2', 'vae']) hub.add(HY, `${f}/config.json`, j({ folder: f }));
    hub.add(HY, BIG, big);
    hub.add(HY, 'text_encoder/model-00002-of-00002.safetensors', randomBytes(1000));
    hub.add(HY, 'text_encoder/pytorch_model.bin', randomBytes(50)); // other format: skipped
    hub.add(HY, 'tokenizer/tokenizer.json', j({ t: 1 }));
    hub.add(HY, 'tokenizer_2/vocab.json', j({ a: 0 }));
    hub.add(HY, 'tokenizer_2/merges.txt', Buffer.from('#version: 0.2\na b\n'));
    hub.add(HY, 'transformer/config.json', j({ not: 'needed' }));
    hub.add(HY, 'README.md', Buffer.from('readme'));
    hub.add(RX, 'image_encoder/config.json', j({ m: 'siglip' }));
    hub.add(RX, 'feature_extractor/preprocessor_config.json', j({ size: 384 }));
    hub.add(RX, 'flux1-redux-dev.safetensors', randomBytes(100));
    hub.add(FP, 'config.json', j({ fp: 1 }));
    hub.add(FP, 'diffusion_pytorch_model.safetensors.index.json', j({ weight_map: {} }));
    hub.add(FP, 'diffusion_pytorch_model-00001-of-00003.safetensors', randomBytes(2000));
    hub.add(FP, 'README.md', Buffer.from('readme'));
    hub.add(FP, '.gitattributes', Buffer.from('*'));
    await hub.start();
    dir = await mkdtemp(join(tmpdir(), 'recurvid-pull-'));
  });
  afterAll(async () => {
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('plans exactly the needed folders, with LFS sizes and hashes', async () => {
    const plan = await planDownloads({ hubUrl: hub.url });
    const names = plan.map((f) => `${f.source}:${f.path}`).sort();
    expect(names).toEqual([
      'framepack:config.json',
      'framepack:diffusion_pytorch_model-00001-of-00003.safetensors',
      'framepack:diffusion_pytorch_model.safetensors.index.json',
      'hunyuan:text_encoder/config.json',
      `hunyuan:${BIG}`,
      'hunyuan:text_encoder/model-00002-of-00002.safetensors',
      'hunyuan:text_encoder_2/config.json',
      'hunyuan:tokenizer/tokenizer.json',
      'hunyuan:tokenizer_2/merges.txt',
      'hunyuan:tokenizer_2/vocab.json',
      'hunyuan:vae/config.json',
      'redux:feature_extractor/preprocessor_config.json',
      'redux:image_encoder/config.json',
    ]);
    const bigEntry = plan.find((f) => f.path === BIG)!;
    expect(bigEntry.size).toBe(big.length);
    expect(bigEntry.sha256).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('an interrupted download leaves a .part that the next run resumes with a Range request, then converts', async () => {
    const downloads = join(dir, 'dl');
    const lines: string[] = [];
    const calls: ConvertModelSetOptions[] = [];
    const base = {
      out: join(dir, 'set'), storage: 'bf16' as const, downloadDir: downloads, hubUrl: hub.url, accessToken: 'hf_testtoken',
      say: (l: string) => lines.push(l), convert: async (o: ConvertModelSetOptions) => { calls.push(o); },
    };
    hub.cut.set(BIG, 120_000);
    await expect(pullModelSet({ ...base, maxAttempts: 1 })).rejects.toThrow(/Run the command again to resume/);
    const part = join(downloads, 'hunyuan', `${BIG}.part`);
    const partial = (await stat(part)).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(big.length);
    expect(calls).toHaveLength(0);
    expect(lines[0]).toMatch(/^Downloading 13 files, .* in total/);

    hub.ranges.length = 0;
    const res = await pullModelSet({ ...base, maxAttempts: 1 });
    const bigRequests = hub.ranges.filter((r) => r.path === BIG);
    expect(bigRequests).toEqual([{ path: BIG, range: `bytes=${partial}-${big.length - 1}` }]);
    expect(res.downloadedBytes).toBeLessThan(big.length + 10_000); // complete files were not fetched again
    expect(Buffer.compare(await readFile(join(downloads, 'hunyuan', BIG)), big)).toBe(0);
    expect(existsSync(part)).toBe(false);
    expect(existsSync(join(downloads, 'hunyuan', 'transformer/config.json'))).toBe(false);
    expect(existsSync(join(downloads, 'redux', 'feature_extractor/preprocessor_config.json'))).toBe(true);
    expect(calls).toEqual([{ sources: { hunyuan: join(downloads, 'hunyuan'), redux: join(downloads, 'redux'), framepack: join(downloads, 'framepack') }, out: join(dir, 'set'), storage: 'bf16' }]);
    expect(hub.auth).toEqual(new Set(['Bearer hf_testtoken']));
    expect(lines[1]).toMatch(/still to fetch/);
  });

  it('retries within one run, resuming after a dropped connection', async () => {
    const downloads = join(dir, 'dl2');
    hub.cut.set(BIG, 200_000);
    hub.ranges.length = 0;
    await pullModelSet({ out: join(dir, 'set2'), storage: 'fp16', downloadDir: downloads, hubUrl: hub.url, maxAttempts: 3, say: () => {}, convert: async () => {} });
    const bigRequests = hub.ranges.filter((r) => r.path === BIG);
    expect(bigRequests).toHaveLength(2);
    expect(bigRequests[0]!.range).toBeUndefined();
    expect(bigRequests[1]!.range).toMatch(/^bytes=[1-9]\d*-299999$/);
    expect(Buffer.compare(await readFile(join(downloads, 'hunyuan', BIG)), big)).toBe(0);
  });

  it('--f1 also plans and converts lllyasviel/FramePack_F1_I2V_HY_20250503 (only then)', async () => {
    const F1 = 'lllyasviel/FramePack_F1_I2V_HY_20250503';
    hub.add(F1, 'config.json', Buffer.from('{}'));
    hub.add(F1, 'diffusion_pytorch_model-00001-of-00002.safetensors', randomBytes(500));
    hub.add(F1, 'README.md', Buffer.from('readme'));
    const without = await planDownloads({ hubUrl: hub.url });
    expect(without.some((f) => f.source === 'framepack_f1')).toBe(false);
    const plan = await planDownloads({ hubUrl: hub.url, f1: true });
    expect(plan.filter((f) => f.source === 'framepack_f1').map((f) => f.path).sort()).toEqual([
      'config.json', 'diffusion_pytorch_model-00001-of-00002.safetensors',
    ]);
    const calls: ConvertModelSetOptions[] = [];
    const downloads = join(dir, 'dl-f1');
    hub.cut.clear();
    await pullModelSet({
      out: join(dir, 'set-f1'), storage: 'bf16', downloadDir: downloads, hubUrl: hub.url, f1: true, say: () => {},
      convert: async (o) => { calls.push(o); },
    });
    expect(calls[0]!.sources.framepack_f1).toBe(join(downloads, 'framepack_f1'));
    expect(existsSync(join(downloads, 'framepack_f1', 'config.json'))).toBe(true);
  });
});
