// Plans where the transformer's block weights live and predicts the host↔device bytes of one step.
// The memory plan (resident blocks up to the budget, streamed beyond it, resident ones grouped into
// few sessions) is decided once at load and logged; the byte model mirrors exactly the tensors the
// runtime passes, so the same figure can be computed for shapes we cannot run here (the 640 bucket).
import { innerDim, type PackedTransformerConfig } from './config.ts';

export interface BlockPlan {
  /** Block-file indices kept resident, in sessions of consecutive files. */
  groups: number[][];
  /** Block-file indices streamed from host memory through one shared graph per block type. */
  streamed: number[];
  residentBytes: number;
  streamedBytes: number;
  /** What the budget left for block weights after embed, head and activations (Infinity: no budget). */
  blockBudgetBytes: number;
  /** False when even one streamed block does not fit the budget (it runs anyway; the log says so). */
  fits: boolean;
}

export interface PlanInput {
  /** Stored weight bytes of each block file (its .onnx.data). */
  fileBytes: number[];
  /** Weight bytes of the embed and head graphs (always resident). */
  fixedBytes: number;
  /** Whole budget for the transformer on the device; undefined = everything resident. */
  budgetBytes?: number;
  /** Activation reserve (peak working memory of one block at the expected shapes). */
  activationBytes?: number;
  /** Block files per resident session; default: all resident files in one session. */
  groupSize?: number;
}

export function planBlocks(p: PlanInput): BlockPlan {
  const n = p.fileBytes.length;
  const blockBudget = p.budgetBytes === undefined ? Infinity : Math.max(0, p.budgetBytes - p.fixedBytes - (p.activationBytes ?? 0));
  const resident: number[] = [];
  let used = 0;
  for (let i = 0; i < n; i++) {
    // Blocks after this one stream through host memory: keep room for the largest of them.
    const rest = p.fileBytes.slice(i + 1);
    const room = rest.length ? Math.max(...rest) : 0;
    if (used + p.fileBytes[i]! + room > blockBudget) break;
    resident.push(i);
    used += p.fileBytes[i]!;
  }
  const streamed = Array.from({ length: n - resident.length }, (_, k) => resident.length + k);
  const size = Math.max(1, Math.floor(p.groupSize ?? (resident.length || 1)));
  const groups: number[][] = [];
  for (let i = 0; i < resident.length; i += size) groups.push(resident.slice(i, i + size));
  return {
    groups,
    streamed,
    residentBytes: used,
    streamedBytes: streamed.reduce((a, i) => a + p.fileBytes[i]!, 0),
    blockBudgetBytes: blockBudget,
    fits: used + (streamed.length ? Math.max(...streamed.map((i) => p.fileBytes[i]!)) : 0) <= blockBudget,
  };
}

/** Shapes of one transformer call: the latent grid of the noisy section and the text / image tokens. */
export interface StepShapes {
  /** Noisy latent frames, height and width (latent pixels). */
  t: number;
  h: number;
  w: number;
  /** Padded LLaMA tokens, real ones, SigLIP tokens. */
  textTokens: number;
  textReal: number;
  imageTokens: number;
}

/** demo_gradio's 608×640 bucket (one of the 640 buckets): window 9 → 17 500 image tokens, 729 SigLIP tokens. */
export const BUCKET_640: StepShapes = { t: 9, h: 76, w: 80, textTokens: 512, textReal: 128, imageTokens: 729 };

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Image tokens after packing [4×, 2×, clean 1×, noisy] (clean frames 1 + 1, 2, 16). */
export function imageTokenCount(s: StepShapes, patch = 2): number {
  const hw = (k: number) => ceilDiv(s.h, patch * k) * ceilDiv(s.w, patch * k);
  return s.t * hw(1) + 2 * hw(1) + ceilDiv(2, 2) * hw(2) + ceilDiv(16, 4) * hw(4);
}

/**
 * Bytes of every tensor the runtime passes, by name: the JS-side inputs, TeaCache's probe and the
 * velocity in float32, int64 indices, and the tensors between the transformer's own graphs in the
 * compute type (`computeBytes`: 4 for fp32, 2 for fp16).
 */
export function tensorSizes(cfg: PackedTransformerConfig, s: StepShapes, computeBytes = 4): Record<string, number> {
  const D = innerDim(cfg);
  const c = computeBytes;
  const L = imageTokenCount(s, cfg.patchSize);
  const Lc = s.imageTokens + s.textReal;
  const lat = (frames: number) => 16 * frames * s.h * s.w * 4;
  return {
    hidden_states: lat(s.t),
    timestep: 4,
    guidance: 4,
    encoder_hidden_states: s.textTokens * cfg.textEmbedDim * 4,
    encoder_attention_mask: s.textTokens * 4,
    pooled_projections: cfg.pooledDim * 4,
    image_embeddings: s.imageTokens * cfg.imageDim * 4,
    latent_indices: s.t * 8,
    clean_latents: lat(2),
    clean_latent_indices: 2 * 8,
    clean_latents_2x: lat(2),
    clean_latent_2x_indices: 2 * 8,
    clean_latents_4x: lat(16),
    clean_latent_4x_indices: 16 * 8,
    hidden: L * D * c,
    context: Lc * D * c,
    temb: D * c,
    rope: L * 2 * cfg.headDim * c,
    modulated: L * D * 4,
    block0_modulation: 6 * D * c,
    latent_shape: 3 * 8,
    hidden_out: L * D * c,
    context_out: Lc * D * c,
    sample: lat(s.t),
  };
}

/** One session run: the names it is fed and the names it returns to the host. */
export interface RunLayout {
  inputs: string[];
  outputs: string[];
  /** Weight bytes streamed into this run. */
  weightBytes?: number;
}

export const EMBED_FEEDS = [
  'hidden_states', 'timestep', 'guidance', 'encoder_hidden_states', 'encoder_attention_mask', 'pooled_projections',
  'image_embeddings', 'latent_indices', 'clean_latents', 'clean_latent_indices', 'clean_latents_2x',
  'clean_latent_2x_indices', 'clean_latents_4x', 'clean_latent_4x_indices',
];

export function layoutBytes(layout: RunLayout[], sizes: Record<string, number>): { toDevice: number; toHost: number; weights: number } {
  let toDevice = 0, toHost = 0, weights = 0;
  const size = (n: string) => {
    const b = sizes[n];
    if (b === undefined) throw new Error(`layoutBytes: no size for ${n}`);
    return b;
  };
  for (const r of layout) {
    for (const n of r.inputs) toDevice += size(n);
    for (const n of r.outputs) toHost += size(n);
    toDevice += r.weightBytes ?? 0;
    weights += r.weightBytes ?? 0;
  }
  return { toDevice, toHost, weights };
}

/** Embed inputs uploaded once per section on a device chain (text, image, clean latents). */
export const SECTION_CONSTANT_FEEDS = ['encoder_hidden_states', 'pooled_projections', 'image_embeddings', 'clean_latents', 'clean_latents_2x', 'clean_latents_4x'];

/**
 * One step chained on the device (WebGPU): the per-step embed inputs and latent_shape go in, the
 * velocity, latent_shape and TeaCache's two float32 sums come out; section constants are excluded
 * (`perSection` gives them, paid once per section).
 */
export function chainedStepBytes(sizes: Record<string, number>, opts: { teacache?: boolean } = {}): { toDevice: number; toHost: number; weights: number; perSection: number } {
  const perStep = EMBED_FEEDS.filter((n) => !SECTION_CONSTANT_FEEDS.includes(n));
  const sum = (names: string[]) => names.reduce((a, n) => a + sizes[n]!, 0);
  return {
    toDevice: sum(perStep) + sizes.latent_shape!,
    toHost: sizes.sample! + sizes.latent_shape! + (opts.teacache ? 8 : 0),
    weights: 0,
    perSection: sum(SECTION_CONSTANT_FEEDS),
  };
}
