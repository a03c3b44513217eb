// A transformer model set with random weights, written straight from shapes (no checkpoint, nothing
// carried): on a GPU machine the full-width 13B graphs are generated where they run. Values follow
// the tiny set's scheme (fan-in scaled matrices, norm scales near 1) from a fast seeded generator.
import { updateManifest } from '../../src/engine/modelset/manifest.ts';
import type { WeightProvider } from '../../src/engine/onnx/weights.ts';
import type { QuantSpec } from '../../src/engine/onnx/quant.ts';
import { transformerManifestEntry, writeTransformerGraphs } from '../../src/engine/transformer/component.ts';
import { officialParamShapes, parseTransformerConfig } from '../../src/engine/transformer/config.ts';

function randomWeights(config: Record<string, unknown>, seed: number): WeightProvider {
  const shapes = officialParamShapes(parseTransformerConfig(config));
  let state = seed >>> 0 || 1;
  return {
    has: (n) => shapes.has(n),
    shape: (n) => shapes.get(n)!,
    async loadFloat32(n) {
      const shape = shapes.get(n)!;
      const size = shape.reduce((a, b) => a * b, 1);
      const out = new Float32Array(size);
      // Uniform with the normal's standard deviation: xorshift32 is fast enough for 13B values.
      const std = shape.length >= 2 ? 1 / Math.sqrt(size / shape[0]!) : n.endsWith('.weight') ? 0.1 : 0.02;
      const mean = shape.length < 2 && n.endsWith('.weight') ? 1 : 0;
      const k = (std * Math.sqrt(3) * 2) / 4294967296;
      for (let i = 0; i < size; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        out[i] = mean + ((state >>> 0) * k - std * Math.sqrt(3));
      }
      return out;
    },
  };
}

export interface RandomSetOptions {
  precision: 'fp32' | 'fp16';
  quant?: QuantSpec;
  seed?: number;
}

export async function writeRandomTransformerSet(dir: string, config: Record<string, unknown>, opts: RandomSetOptions): Promise<void> {
  const convert = { storage: 'fp32' as const, precision: opts.precision, ...(opts.quant ? { quant: opts.quant } : {}) };
  const written = await writeTransformerGraphs(config, randomWeights(config, opts.seed ?? 1), dir, convert);
  await updateManifest(dir, { name: 'gpu-check-random', tiny: true, components: { transformer: transformerManifestEntry(config, written, [], convert) } });
}
