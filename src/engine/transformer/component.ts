// Converter for lllyasviel/FramePackI2V_HY (the packed 13B transformer): validates the official
// folder, builds embed / blocks / head ONNX graphs with the weights as external data, and writes a
// tiny official-format checkpoint for tests and the demo.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComponentConverter, ConvertOptions } from '../modelset/component.ts';
import { describeSourceFile, ModelSetError, type ComponentManifest, type SourceFile } from '../modelset/manifest.ts';
import { checkpointFiles, SafetensorsStore, writeSafetensors, type TensorToWrite } from '../safetensors.ts';
import { float32ToBf16Bytes } from '../dtype.ts';
import { safetensorsWeights, type WeightProvider } from '../onnx/weights.ts';
import { uniqueWeightBytes } from '../onnx/graph.ts';
import { buildTransformerGraphs, uniqueParameterCount } from './build.ts';
import { officialParamShapes, parseTransformerConfig, tinyRawConfig } from './config.ts';
import { seededNormal } from '../seeded-random.ts';

const INDEX = 'diffusion_pytorch_model.safetensors.index.json';
const SINGLE = 'diffusion_pytorch_model.safetensors';

/** config.json plus the index (when sharded) and the weight files it names. */
async function sourceFiles(srcDir: string): Promise<string[]> {
  const checkpoint = await checkpointFiles(srcDir, 'diffusion_pytorch_model');
  const weights = checkpoint ? [...(checkpoint.index ? [checkpoint.index] : []), ...checkpoint.weights] : [join(srcDir, SINGLE)];
  return [join(srcDir, 'config.json'), ...weights];
}

async function validateTransformer(srcDir: string): Promise<void> {
  const configPath = join(srcDir, 'config.json');
  if (!existsSync(configPath)) throw new ModelSetError(`Missing ${configPath} (the FramePackI2V_HY transformer config).`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath, 'utf8'));
  } catch {
    throw new ModelSetError(`${configPath} is not valid JSON.`);
  }
  const cfg = parseTransformerConfig(raw);
  if (!existsSync(join(srcDir, INDEX)) && !existsSync(join(srcDir, SINGLE))) {
    throw new ModelSetError(`No transformer weights in ${srcDir}: expected ${INDEX} with its shards, or ${SINGLE}.`);
  }
  for (const file of await sourceFiles(srcDir)) {
    if (!existsSync(file)) throw new ModelSetError(`Missing transformer weight file ${file} (listed in ${INDEX}).`);
  }
  // Headers only: every official key must be present with its shape.
  const store = await SafetensorsStore.open(srcDir);
  try {
    for (const [name, shape] of officialParamShapes(cfg)) {
      if (!store.has(name)) throw new ModelSetError(`Transformer checkpoint in ${srcDir} lacks ${name}; is this FramePackI2V_HY?`);
      const got = store.info(name).shape;
      if (got.join(',') !== shape.join(',')) {
        throw new ModelSetError(`Transformer checkpoint: ${name} has shape [${got.join(', ')}], config.json implies [${shape.join(', ')}].`);
      }
    }
  } finally {
    await store.close();
  }
}

export interface TransformerConvertOptions extends ConvertOptions {
  blocksPerFile?: number;
  /** Which transformer of the set this is: the original model (default) or F1 (own folder and entry). */
  component?: 'transformer' | 'transformer_f1';
}

/** Graph files written for one transformer, and what the manifest records about them. */
export interface WrittenTransformer {
  files: Record<string, string>;
  extra: Record<string, unknown>;
  used: Set<string>;
}

/** Builds and writes every transformer graph from a config and any weight provider. */
export async function writeTransformerGraphs(
  config: Record<string, unknown>,
  weights: WeightProvider,
  outDir: string,
  opts: TransformerConvertOptions,
): Promise<WrittenTransformer> {
  const cfg = parseTransformerConfig(config);
  const files: Record<string, string> = {};
  const blockFiles: string[] = [];
  const blockContents: string[][] = [];
  const graphs = buildTransformerGraphs(cfg, weights, {
    storage: opts.storage,
    blocksPerFile: opts.blocksPerFile ?? 1,
    precision: opts.precision ?? 'fp32',
    attention: opts.attention ?? 'fused',
    ...(opts.quant ? { quant: opts.quant } : {}),
  });
  const weightBytes = uniqueWeightBytes(graphs.map((g) => g.graph));
  const parameterCount = uniqueParameterCount(graphs, weights);
  for (const [i, gr] of graphs.entries()) {
    const rel = `${opts.component ?? 'transformer'}/${gr.file}`;
    opts.log?.info({ component: 'transformer', graph: gr.role, n: i + 1, of: graphs.length, parameters: gr.graph.parameterCount }, 'writing transformer graph');
    await gr.graph.save(join(outDir, rel));
    files[gr.role] = rel;
    if (gr.blocks) {
      blockFiles.push(rel);
      blockContents.push(gr.blocks);
    }
  }
  return {
    files,
    used: new Set(graphs.flatMap((g) => [...g.binder.used])),
    extra: { blockFiles, blockContents, numLayers: cfg.numLayers, numSingleLayers: cfg.numSingleLayers, parameterCount, weightBytes },
  };
}

export async function convertTransformer(srcDir: string, outDir: string, opts: TransformerConvertOptions): Promise<ComponentManifest> {
  await validateTransformer(srcDir);
  const config = JSON.parse(await readFile(join(srcDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const store = await SafetensorsStore.open(srcDir);
  let written: WrittenTransformer;
  try {
    written = await writeTransformerGraphs(config, safetensorsWeights(store), outDir, opts);
    const unused = store.keys().filter((k) => !written.used.has(k));
    if (unused.length) opts.log?.warn({ component: 'transformer', unused: unused.slice(0, 10), count: unused.length }, 'checkpoint keys not used by the transformer graphs');
  } finally {
    await store.close();
  }
  const source: SourceFile[] = [];
  for (const file of await sourceFiles(srcDir)) {
    source.push(await describeSourceFile(file, join(opts.component ?? 'transformer', file.slice(srcDir.length).replace(/^\/+/, ''))));
  }
  return transformerManifestEntry(config, written, source, opts);
}

export function transformerManifestEntry(config: Record<string, unknown>, written: WrittenTransformer, source: SourceFile[], opts: TransformerConvertOptions): ComponentManifest {
  const component = opts.component ?? 'transformer';
  return {
    component,
    config,
    dtype: opts.precision === 'fp16' ? 'fp16' : opts.storage,
    precision: opts.precision ?? 'fp32',
    quant: opts.quant ?? null,
    attention: opts.attention ?? 'fused',
    files: written.files,
    source,
    extra: { ...written.extra, variant: component === 'transformer_f1' ? 'f1' : 'original' },
  };
}

// ---- tiny checkpoints -------------------------------------------------------------------------

export interface TinyTransformerOptions {
  /** Checkpoint dtype (the official one is bf16). */
  dtype?: 'fp32' | 'bf16';
  /** Number of shards; >1 writes an index.json like the official folder. */
  shards?: number;
  /** Raw config.json to use instead of the tiny default. */
  config?: Record<string, unknown>;
}

/** Writes config.json and seeded random weights in the official key layout (golden-set init scheme). */
export async function makeTinyTransformer(dir: string, seed: number, opts: TinyTransformerOptions = {}): Promise<void> {
  const raw = opts.config ?? tinyRawConfig();
  const cfg = parseTransformerConfig(raw);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
  const rand = seededNormal(seed >>> 0 || 0x9e3779b9); // seed 0 maps to a fixed non-zero state, as before
  const tensors: Array<[string, TensorToWrite]> = [];
  for (const [name, shape] of officialParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const std = shape.length >= 2 ? 1 / Math.sqrt(n / shape[0]!) : name.endsWith('.weight') ? 0.1 : 0.02;
    const mean = shape.length < 2 && name.endsWith('.weight') ? 1 : 0;
    for (let i = 0; i < n; i++) data[i] = mean + std * rand();
    const bytes = opts.dtype === 'bf16' ? float32ToBf16Bytes(data) : new Uint8Array(data.buffer);
    tensors.push([name, { dtype: opts.dtype === 'bf16' ? 'BF16' : 'F32', shape, data: bytes }]);
  }
  const shards = Math.max(1, Math.min(opts.shards ?? 1, tensors.length));
  if (shards === 1) {
    await writeSafetensors(join(dir, SINGLE), Object.fromEntries(tensors));
    return;
  }
  const weightMap: Record<string, string> = {};
  let total = 0;
  const per = Math.ceil(tensors.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `diffusion_pytorch_model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(s * per, (s + 1) * per);
    for (const [name, t] of part) {
      weightMap[name] = file;
      total += t.data.byteLength;
    }
    await writeSafetensors(join(dir, file), Object.fromEntries(part));
  }
  await writeFile(join(dir, INDEX), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
}

export const transformerConverter: ComponentConverter = {
  components: ['transformer'],
  source: { repo: 'framepack', subdir: '.' },
  validate: validateTransformer,
  async convert(srcDir, outDir, opts) {
    return [await convertTransformer(srcDir, outDir, opts)];
  },
  async makeTiny(srcDir, seed) {
    // Like the official folder: bf16, sharded with an index.
    await makeTinyTransformer(srcDir, seed, { dtype: 'bf16', shards: 2 });
  },
};

/** FramePack-F1's transformer: same architecture and converter, its own folder and manifest entry. */
export const transformerF1Converter: ComponentConverter = {
  components: ['transformer_f1'],
  source: { repo: 'framepack_f1', subdir: '.' },
  validate: validateTransformer,
  async convert(srcDir, outDir, opts) {
    return [await convertTransformer(srcDir, outDir, { ...opts, component: 'transformer_f1' })];
  },
  async makeTiny(srcDir, seed) {
    // Different seeded weights from the original tiny transformer, so the two really differ.
    await makeTinyTransformer(srcDir, (seed + 0x51f1) >>> 0, { dtype: 'bf16', shards: 2 });
  },
};
