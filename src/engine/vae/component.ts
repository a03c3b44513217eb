// Converter for the VAE folder of hunyuanvideo-community/HunyuanVideo: config.json +
// diffusion_pytorch_model.safetensors (or a sharded index) → vae/encoder.onnx + vae/decoder.onnx.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ComponentConverter, ConvertOptions } from '../modelset/component.ts';
import { describeSourceFile, ModelSetError, type ComponentManifest, type SourceFile } from '../modelset/manifest.ts';
import { PRECISION_COMPUTE, safetensorsWeights } from '../onnx/weights.ts';
import { checkpointFiles, SafetensorsStore, writeSafetensors } from '../safetensors.ts';
import { parseVaeConfig, VAE_CLASS_NAME } from './config.ts';
import { buildVaeDecoder, buildVaeEncoder } from './graphs.ts';
import { vaeParameterShapes } from './params.ts';
import { SeededRandom } from '../seeded-random.ts';

const WEIGHT_STEM = 'diffusion_pytorch_model';
const WEIGHT_FILES = [`${WEIGHT_STEM}.safetensors.index.json`, `${WEIGHT_STEM}.safetensors`];

/** The tiny config: the golden set's architecture (every block type, attention, all resamplers). */
export const TINY_VAE_CONFIG = {
  _class_name: VAE_CLASS_NAME,
  _diffusers_version: '0.33.1',
  act_fn: 'silu',
  block_out_channels: [8, 8, 16, 16],
  down_block_types: new Array(4).fill('HunyuanVideoDownBlock3D'),
  in_channels: 3,
  latent_channels: 16,
  layers_per_block: 1,
  mid_block_add_attention: true,
  norm_num_groups: 4,
  out_channels: 3,
  scaling_factor: 0.476986,
  spatial_compression_ratio: 8,
  temporal_compression_ratio: 4,
  up_block_types: new Array(4).fill('HunyuanVideoUpBlock3D'),
};

/** config.json plus the index (when sharded) and the weight files it names. */
async function sourceFiles(srcDir: string): Promise<string[]> {
  const checkpoint = await checkpointFiles(srcDir, WEIGHT_STEM);
  if (!checkpoint) throw new ModelSetError(`VAE folder ${srcDir} has no weights: expected ${WEIGHT_FILES.join(' or ')}.`);
  return [join(srcDir, 'config.json'), ...(checkpoint.index ? [checkpoint.index] : []), ...checkpoint.weights];
}

/**
 * Writes random weights for `config` in the official key layout: N(0, 1/fan_in) for ≥2-D weights,
 * 1 + 0.1·N(0, 1) for norm scales, 0.02·N(0, 1) for biases (the golden sets' recipe), seeded.
 */
export async function writeRandomVae(dir: string, config: Record<string, unknown>, seed: number): Promise<void> {
  const cfg = parseVaeConfig(config);
  const rng = new SeededRandom(seed);
  const tensors: Parameters<typeof writeSafetensors>[1] = {};
  for (const [name, shape] of [...vaeParameterShapes(cfg)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      shape.length >= 2
        ? rng.normals(n, 1 / Math.sqrt(n / shape[0]!))
        : name.endsWith('.weight')
          ? rng.normals(n, 0.1, 1)
          : rng.normals(n, 0.02);
    tensors[name] = { dtype: 'F32', shape, data: new Uint8Array(data.buffer) };
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), tensors, { format: 'pt' });
}

/** Every parameter the config implies must be in the checkpoint with its shape; names the first that is not. */
function checkCheckpoint(store: SafetensorsStore, cfg: ReturnType<typeof parseVaeConfig>, srcDir: string): void {
  for (const [name, shape] of vaeParameterShapes(cfg)) {
    if (!store.has(name)) throw new ModelSetError(`VAE weights in ${srcDir} lack ${name}; is this the HunyuanVideo vae folder?`);
    const got = store.info(name).shape;
    if (got.join(',') !== shape.join(',')) {
      throw new ModelSetError(`VAE weight ${name} in ${srcDir} has shape [${got.join(', ')}], config.json implies [${shape.join(', ')}].`);
    }
  }
}

export const vaeConverter: ComponentConverter = {
  components: ['vae'],
  source: { repo: 'hunyuan', subdir: 'vae' },

  async validate(srcDir) {
    const configPath = join(srcDir, 'config.json');
    if (!existsSync(configPath)) throw new ModelSetError(`VAE folder ${srcDir} has no config.json.`);
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(configPath, 'utf8'));
    } catch {
      throw new ModelSetError(`${configPath} is not valid JSON.`);
    }
    parseVaeConfig(raw); // names a wrong _class_name or unsupported field
    if (!(await checkpointFiles(srcDir, WEIGHT_STEM))) {
      throw new ModelSetError(`VAE folder ${srcDir} has no weights: expected ${WEIGHT_FILES.join(' or ')}.`);
    }
  },

  async convert(srcDir, outDir, opts: ConvertOptions): Promise<ComponentManifest[]> {
    await this.validate(srcDir);
    const config = JSON.parse(await readFile(join(srcDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const cfg = parseVaeConfig(config);
    const store = await SafetensorsStore.open(srcDir);
    try {
      checkCheckpoint(store, cfg, srcDir);
      const weights = safetensorsWeights(store);
      const used = new Set<string>();
      for (const [role, build] of [['encoder', buildVaeEncoder], ['decoder', buildVaeDecoder]] as const) {
        const built = build(cfg, weights, { storage: opts.storage, compute: PRECISION_COMPUTE[opts.precision ?? 'fp32'], attention: opts.attention ?? 'fused' });
        opts.log?.info({ component: 'vae', graph: role, parameters: built.graph.parameterCount }, 'writing VAE graph');
        await built.graph.save(join(outDir, 'vae', `${role}.onnx`));
        for (const k of built.used) used.add(k);
      }
      const unused = store.keys().filter((k) => !used.has(k));
      if (unused.length) opts.log?.warn({ component: 'vae', unused: unused.slice(0, 10), count: unused.length }, 'checkpoint keys not used by the VAE graphs');
    } finally {
      await store.close();
    }
    const source: SourceFile[] = [];
    for (const file of await sourceFiles(srcDir)) {
      source.push(await describeSourceFile(file, join('vae', basename(file))));
    }
    return [
      {
        component: 'vae',
        config,
        dtype: opts.precision === 'fp16' ? 'fp16' : opts.storage,
        precision: opts.precision ?? 'fp32',
        attention: opts.attention ?? 'fused',
        files: { encoder: 'vae/encoder.onnx', decoder: 'vae/decoder.onnx' },
        source,
        extra: {
          scalingFactor: cfg.scalingFactor,
          latentChannels: cfg.latentChannels,
          spatialCompression: cfg.spatialCompressionRatio,
          temporalCompression: cfg.temporalCompressionRatio,
        },
      },
    ];
  },

  async makeTiny(srcDir, seed) {
    await writeRandomVae(srcDir, TINY_VAE_CONFIG, seed);
  },
};
