// Conformance of the packed transformer (HunyuanVideoTransformer3DModelPacked.forward): converts the
// set's own config + weights, feeds in.*, and compares out.sample, out2.sample (in2.timestep) and the
// dbg.* intermediates the embed graph exposes, elementwise |got − want| ≤ atol + rtol·|want|.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { updateManifest } from '../engine/modelset/manifest.ts';
import { SafetensorsStore } from '../engine/safetensors.ts';
import { convertTransformer } from '../engine/transformer/component.ts';
import { PACKED_CLASS_NAME } from '../engine/transformer/config.ts';
import { PackedTransformer, type EmbedOutput, type Tensor, type TransformerInputs } from '../engine/transformer/runtime.ts';
import { quantSpec } from '../engine/onnx/quant.ts';
import { modeAttention, relativeL2, type ConformanceMode } from './modes.ts';
import type { ConformanceHandler, ConformanceLine } from './types.ts';

export const TRANSFORMER_ATOL = 1e-4;
export const TRANSFORMER_RTOL = 1e-4;

/** allclose-style line; maxRel is max |d| / |want| over elements where |want| > atol. */
export function closeLine(name: string, got: Tensor, want: Tensor, atol = TRANSFORMER_ATOL, rtol = TRANSFORMER_RTOL): ConformanceLine {
  if (got.dims.join(',') !== want.dims.join(',')) {
    return { name, maxAbs: Infinity, maxRel: Infinity, atol, pass: false, note: `shape [${got.dims.join(',')}] vs reference [${want.dims.join(',')}]` };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let pass = true;
  for (let i = 0; i < want.data.length; i++) {
    const w = want.data[i]!;
    const d = Math.abs(got.data[i]! - w);
    if (!(d <= atol + rtol * Math.abs(w))) pass = false;
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(w) > atol) maxRel = Math.max(maxRel, d / Math.abs(w));
  }
  return { name, maxAbs, maxRel, atol, pass };
}

async function tensor(store: SafetensorsStore, name: string): Promise<Tensor> {
  return { data: await store.readFloat32(name), dims: store.info(name).shape };
}

async function ints(store: SafetensorsStore, name: string): Promise<number[]> {
  return Array.from(await store.readInt64(name), Number);
}

/** The golden set's in.* tensors as runtime inputs. */
export async function readTransformerInputs(store: SafetensorsStore, prefix = 'in'): Promise<TransformerInputs> {
  const scalar = async (n: string) => (await store.readFloat32(n))[0]!;
  return {
    hiddenStates: await tensor(store, `${prefix}.hidden_states`),
    timestep: await scalar(`${prefix}.timestep`),
    guidance: await scalar(`${prefix}.guidance`),
    encoderHiddenStates: await tensor(store, `${prefix}.encoder_hidden_states`),
    encoderAttentionMask: Uint8Array.from(await ints(store, `${prefix}.encoder_attention_mask`)),
    pooledProjections: await tensor(store, `${prefix}.pooled_projections`),
    imageEmbeddings: await tensor(store, `${prefix}.image_embeddings`),
    latentIndices: await ints(store, `${prefix}.latent_indices`),
    cleanLatents: await tensor(store, `${prefix}.clean_latents`),
    cleanLatentIndices: await ints(store, `${prefix}.clean_latent_indices`),
    cleanLatents2x: await tensor(store, `${prefix}.clean_latents_2x`),
    cleanLatent2xIndices: await ints(store, `${prefix}.clean_latent_2x_indices`),
    cleanLatents4x: await tensor(store, `${prefix}.clean_latents_4x`),
    cleanLatent4xIndices: await ints(store, `${prefix}.clean_latent_4x_indices`),
  };
}

const DEBUG: Array<[string, (e: EmbedOutput) => Tensor]> = [
  ['dbg.hidden_in', (e) => e.hidden],
  ['dbg.rope_freqs', (e) => e.rope],
  ['dbg.temb', (e) => e.temb],
  ['dbg.context', (e) => e.debug.context],
  ['dbg.image_tokens', (e) => e.debug.imageTokens],
  ['dbg.teacache_modulated', (e) => e.modulated],
];

async function isTransformerSet(dir: string): Promise<boolean> {
  const config = join(dir, 'config.json');
  if (!existsSync(config) || !existsSync(join(dir, 'io.safetensors'))) return false;
  try {
    return (JSON.parse(await readFile(config, 'utf8')) as { _class_name?: unknown })._class_name === PACKED_CLASS_NAME;
  } catch {
    return false;
  }
}

export async function runTransformerConformance(dir: string, mode: ConformanceMode = {}): Promise<ConformanceLine[]> {
  const work = await mkdtemp(join(tmpdir(), 'recurvid-transformer-conf-'));
  const io = await SafetensorsStore.open(join(dir, 'io.safetensors'));
  let model: PackedTransformer | undefined;
  const tol = transformerTolerance(mode);
  const line = (name: string, got: Tensor, want: Tensor) => withRelL2(closeLine(name, got, want, tol.atol, tol.rtol), got, want, tol.relL2);
  try {
    const quant = quantSpec(mode.quant ?? 'none', mode.blockSize ?? 64);
    const entry = await convertTransformer(dir, work, { storage: 'fp32', precision: mode.precision ?? 'fp32', attention: modeAttention(mode), ...(quant ? { quant } : {}) });
    await updateManifest(work, { name: 'conformance', tiny: true, components: { transformer: entry } });
    model = await PackedTransformer.load(work, { provider: mode.provider ?? 'cpu' });
    const inputs = await readTransformerInputs(io);
    const lines: ConformanceLine[] = [];
    const e = await model.embed(inputs, true);
    for (const [name, pick] of DEBUG) if (io.has(name)) lines.push(line(name, pick(e), await tensor(io, name)));
    const sample = await model.head(e, await model.blocks(e));
    lines.push(line('out.sample', sample, await tensor(io, 'out.sample')));
    if (io.has('in2.timestep') && io.has('out2.sample')) {
      const second = await model.forward({ ...inputs, timestep: (await io.readFloat32('in2.timestep'))[0]! });
      lines.push(line('out2.sample', second, await tensor(io, 'out2.sample')));
    }
    return lines;
  } finally {
    await model?.close();
    await io.close();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Per-mode bounds. fp32 keeps the reference tolerance; the others are allclose-free: they bound the
 * max abs error and the relative L2 error of every compared tensor, from the measurements in
 * src/engine/transformer/README.md (about 2× the measured worst case, rounded up).
 */
export function transformerTolerance(mode: ConformanceMode): { atol: number; rtol: number; relL2?: number } {
  const q = mode.quant ?? 'none';
  if (q === 'int4') return { atol: 2.5, rtol: 0, relL2: 0.35 };
  if (q === 'int8') return { atol: 0.15, rtol: 0, relL2: 2.5e-2 };
  // Activations quantized per tensor as well as the weights per channel: twice int8/64's error.
  if (q === 'int8-dynamic') return { atol: 0.25, rtol: 0, relL2: 4e-2 };
  // From the true fp16 run (WebGPU computes and accumulates in fp16; the CPU provider widens to fp32).
  if ((mode.precision ?? 'fp32') === 'fp16') return { atol: 8e-2, rtol: 0, relL2: 6e-3 };
  return { atol: TRANSFORMER_ATOL, rtol: TRANSFORMER_RTOL };
}

/** Adds the relative L2 error (‖got − want‖ / ‖want‖) to a line, failing it above `bound`. */
function withRelL2(l: ConformanceLine, got: Tensor, want: Tensor, bound?: number): ConformanceLine {
  if (got.data.length !== want.data.length) return l;
  const r = relativeL2(got.data, want.data);
  const pass = l.pass && (bound === undefined || r <= bound);
  return { ...l, relL2: r, pass, ...(bound !== undefined ? { note: `(rel L2 ${r.toExponential(2)} ≤ ${bound})` } : {}) };
}

export const transformerConformance: ConformanceHandler = {
  kind: 'transformer',
  modes: true,
  detect: isTransformerSet,
  run: (dir, mode) => runTransformerConformance(dir, mode),
};
