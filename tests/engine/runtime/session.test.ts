import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GraphBuilder } from '../../../src/engine/onnx/graph.ts';
import { availableProviders, createSession, defaultIntraOpThreads, intraOpThreads, ort, physicalCores, ProviderUnavailableError, setIntraOpThreads } from '../../../src/engine/runtime/session.ts';

async function identityModel(): Promise<Uint8Array> {
  const g = new GraphBuilder('identity');
  const x = g.input('x', 'float32', [2]);
  g.output(g.op('Relu', [x]), 'y', 'float32', [2]);
  return g.toBytes();
}

describe('execution providers', () => {
  it('lists the bundled CPU and WebGPU providers', () => {
    const bundled = availableProviders().filter((p) => p.bundled).map((p) => p.name);
    expect(bundled).toEqual(expect.arrayContaining(['cpu', 'webgpu']));
  });

  it('runs on cpu', async () => {
    const s = await createSession(await identityModel(), { provider: 'cpu' });
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([-1, 2]), [2]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([0, 2]);
  });

  it('cuda either loads or fails with a sentence that says how to install it', async () => {
    const binDir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    const cudaInstalled = existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'));
    const attempt = createSession(await identityModel(), { provider: 'cuda' });
    if (cudaInstalled) {
      await expect(attempt).resolves.toBeDefined();
    } else {
      const err = await attempt.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect((err as Error).message).toMatch(/^The cuda execution provider could not be loaded .*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node$/);
    }
  });
});

describe('intra-op threads', () => {
  it('defaults to every physical core below 4 and leaves one free from 4 up', () => {
    expect(defaultIntraOpThreads(1)).toBe(1);
    expect(defaultIntraOpThreads(2)).toBe(2);
    expect(defaultIntraOpThreads(4)).toBe(3);
    expect(defaultIntraOpThreads(16)).toBe(15);
    expect(physicalCores()).toBeGreaterThanOrEqual(1);
  });

  it('takes the configured count and refuses nonsense with a sentence', () => {
    setIntraOpThreads(3);
    expect(intraOpThreads()).toBe(3);
    setIntraOpThreads(undefined);
    expect(intraOpThreads()).toBe(defaultIntraOpThreads());
    expect(() => setIntraOpThreads(0)).toThrow(/positive integer/);
  });
});
