// Conformance of the section loop (sampling direction + packing + history + decode windows) on the
// golden tiny transformer: tests/fixtures/golden/sections_f1 (FramePack-F1, forward) and
// sections_endframe (original model, inverted, with and without FramePack-Studio's end frame). The
// loop below is the pipeline's own: direction.planSections / packContext / commit / decodeWindow /
// mergePixels and run.ts's sampleSection, with each section's golden noise injected.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SafetensorsStore } from '../engine/safetensors.ts';
import { cropOrPadYieldMask, latentPaddings, sigmasForLatent, sliceTime, totalLatentSections, type Tensor } from '../engine/functions/index.ts';
import {
  forwardDirection, invertedDirection, type DirectionSection, type EndFrame, type SamplingDirection,
} from '../engine/direction/index.ts';
import { sampleSection, TEXT_TOKENS, type Conditioning } from '../engine/pipeline/run.ts';
import type { TransformerLike } from '../engine/pipeline/components.ts';
import { jobOptions } from '../options/job-options.ts';
import { PixelHistory } from '../engine/video/history.ts';
import { exactLine, floatLine } from './functions.ts';
import { intsOf, tensorOf } from './golden-io.ts';
import { openGoldenTransformer } from './sampler.ts';
import type { ConformanceHandler, ConformanceLine } from './types.ts';

/** The READMEs' tolerances: latents atol 3e-4, sigmas 1e-6; indices and frame counts exact. */
const ATOL = 3e-4;

interface GoldenConfig {
  seed: number; height: number; width: number; latent_window_size: number; total_second_length: number;
  steps: number; cfg: number; gs: number; rs: number; end_frame_strength?: number;
}
interface GoldenSection {
  latent_indices: number[]; clean_latent_indices: number[]; clean_latent_2x_indices: number[]; clean_latent_4x_indices: number[];
  history_frames_after: number; total_generated_latent_frames_after: number; vae_decode_input_frames: number;
  history_pixels_frames_after: number; sigmas: number[]; latent_padding?: number; is_last_section?: boolean;
}
interface F1Json {
  source: { file: string }; config: GoldenConfig; total_latent_sections: number; sections: GoldenSection[];
  section_count_table: Array<{ total_second_length: number; latent_window_size: number; total_latent_sections: number }>;
}
interface EndframeJson {
  config: GoldenConfig; total_latent_sections: number; latent_paddings: number[];
  runs: Record<'endframe' | 'control', { end_frame: boolean; end_frame_strength: number; sections: GoldenSection[] }>;
}

const zerosLike = (t: Tensor): Tensor => ({ data: new Float32Array(t.data.length), dims: [...t.dims] });

/** The golden tiny transformer: `<set>/transformer`, else the sampler set's next to it (the READMEs' `../sampler/transformer`). */
export function goldenTransformerRoot(dir: string): string | undefined {
  for (const root of [dir, join(dirname(dir), 'sampler')]) if (existsSync(join(root, 'transformer', 'config.json'))) return root;
  return undefined;
}

interface LoopInput {
  label: string;
  direction: SamplingDirection;
  transformer: TransformerLike;
  io: SafetensorsStore;
  /** Tensor-name prefix of this run's per-section tensors, e.g. 'endframe.' or ''. */
  prefix: string;
  config: GoldenConfig;
  sections: GoldenSection[];
  endFrame?: EndFrame;
}

/** Runs the job's section loop as the pipeline does and compares every recorded tensor and count. */
async function runSectionLoop(input: LoopInput): Promise<ConformanceLine[]> {
  const { label, direction, io, prefix, config: c } = input;
  const lines: ConformanceLine[] = [];
  const window = c.latent_window_size;
  const llama = cropOrPadYieldMask(await tensorOf(io, 'in.llama_vec'), TEXT_TOKENS);
  const pooler = await tensorOf(io, 'in.clip_l_pooler');
  const startLatent = await tensorOf(io, 'in.start_latent');
  // cfg = 1: the negative branch is never evaluated; the worker passes zeros.
  const cond: Conditioning = {
    llamaVec: llama.y, llamaMask: llama.mask, clipPooled: pooler,
    llamaVecN: zerosLike(llama.y), llamaMaskN: new Uint8Array(llama.mask.length), clipPooledN: zerosLike(pooler),
    imageEmbeddings: await tensorOf(io, 'in.image_embeddings'), startLatent,
  };
  const options = jobOptions({
    seconds: c.total_second_length, windowSize: window, steps: c.steps, cfg: c.cfg, distilledCfg: c.gs, cfgRescale: c.rs, seed: c.seed, cache: 'none',
  });
  const plans = direction.planSections(c.total_second_length, window);
  lines.push(exactLine(`${label}.section_count`, plans.length, input.sections.length));
  let history = direction.initialHistory(startLatent, input.endFrame);
  const pixels = PixelHistory.empty(direction.name === 'forward');
  const [, ch, , lh, lw] = startLatent.dims as [number, number, number, number, number];
  for (let k = 0; k < plans.length; k++) {
    const plan: DirectionSection = plans[k]!;
    const want = input.sections[k]!;
    const s = `${prefix}s${k}.`;
    const tag = `${label}.s${k}`;
    lines.push(exactLine(`${tag}.indices`,
      [plan.latentIndices, plan.cleanLatentIndices, plan.cleanLatent2xIndices, plan.cleanLatent4xIndices],
      [want.latent_indices, want.clean_latent_indices, want.clean_latent_2x_indices, want.clean_latent_4x_indices]));
    lines.push(exactLine(`${tag}.indices (io)`,
      [plan.latentIndices, plan.cleanLatentIndices, plan.cleanLatent2xIndices, plan.cleanLatent4xIndices],
      [await intsOf(io, `${s}latent_indices`), await intsOf(io, `${s}clean_latent_indices`), await intsOf(io, `${s}clean_latent_2x_indices`), await intsOf(io, `${s}clean_latent_4x_indices`)]));
    if (want.latent_padding !== undefined) {
      lines.push(exactLine(`${tag}.latent_padding / is_last_section`, [plan.latentPadding, plan.isLastSection], [want.latent_padding, want.is_last_section]));
    }
    lines.push(floatLine(`${tag}.sigmas`, sigmasForLatent(c.steps, window, lh, lw), await io.readFloat32(`${s}sigmas`), 1e-6));
    const context = direction.packContext(history, startLatent);
    lines.push(floatLine(`${tag}.clean_latents`, context.cleanLatents.data, await io.readFloat32(`${s}clean_latents`), ATOL));
    lines.push(floatLine(`${tag}.clean_latents_2x`, context.cleanLatents2x.data, await io.readFloat32(`${s}clean_latents_2x`), ATOL));
    lines.push(floatLine(`${tag}.clean_latents_4x`, context.cleanLatents4x.data, await io.readFloat32(`${s}clean_latents_4x`), ATOL));
    const noise = await io.readFloat32(`${s}noise`);
    const generated = await sampleSection({
      transformer: input.transformer, cond, context, plan, options, variant: 'bh1',
      rng: { normals: (n) => { if (n !== noise.length) throw new Error(`noise size ${n} ≠ ${noise.length}`); return noise; } },
    });
    lines.push(floatLine(`${tag}.generated_latents`, generated, await io.readFloat32(`${s}generated_latents`), ATOL));
    const first = k === 0;
    history = direction.commit(history, { data: generated, dims: [1, ch, window, lh, lw] }, plan, startLatent);
    lines.push(floatLine(`${tag}.history_latents`, history.latents.data, await io.readFloat32(`${s}history_latents`), ATOL));
    const decode = direction.decodeWindow(history, plan, window, first);
    lines.push(floatLine(`${tag}.vae_decode_latents`, decode.data, await io.readFloat32(`${s}vae_decode_latents`), ATOL));
    // The reference's stand-in decode returns (T − 1)·4 + 1 frames of zeros; merging them with the
    // direction's own rule gives the real pixel frame counts.
    const t = decode.dims[2]!;
    direction.mergePixels(pixels, { data: new Float32Array(3 * ((t - 1) * 4 + 1)), dims: [1, 3, (t - 1) * 4 + 1, 1, 1] }, window, first);
    lines.push(exactLine(`${tag}.frame counts (history, generated, decoded, pixels, planned pixels)`,
      [history.latents.dims[2], history.generated, t, pixels.frames, direction.framesAfterSections(plans, window, k + 1)],
      [want.history_frames_after, want.total_generated_latent_frames_after, want.vae_decode_input_frames, want.history_pixels_frames_after, want.history_pixels_frames_after]));
  }
  const real = direction.realHistory(history);
  lines.push(floatLine(`${label}.out.real_history_latents`, real.data, await io.readFloat32(`${prefix}out.real_history_latents`), ATOL));
  return lines;
}

async function withTransformer<T>(dir: string, fn: (t: TransformerLike) => Promise<T>): Promise<T> {
  const root = goldenTransformerRoot(dir);
  if (!root) throw new Error(`No golden transformer at ${join(dir, 'transformer')} or ${join(dirname(dir), 'sampler', 'transformer')}.`);
  const { transformer, dispose } = await openGoldenTransformer(root);
  try {
    return await fn(transformer);
  } finally {
    await dispose();
  }
}

export async function runF1SectionsConformance(dir: string): Promise<ConformanceLine[]> {
  const json = JSON.parse(await readFile(join(dir, 'sections.json'), 'utf8')) as F1Json;
  const lines: ConformanceLine[] = [];
  const counts = json.section_count_table.map((r) => forwardDirection.planSections(r.total_second_length, r.latent_window_size).length);
  lines.push(exactLine(`section_count_table (${counts.length} cases)`, counts, json.section_count_table.map((r) => r.total_latent_sections)));
  const io = await SafetensorsStore.open(join(dir, 'io.safetensors'));
  try {
    lines.push(...(await withTransformer(dir, (transformer) => runSectionLoop({
      label: 'f1', direction: forwardDirection, transformer, io, prefix: '', config: json.config, sections: json.sections,
    }))));
  } finally {
    await io.close();
  }
  return lines;
}

export async function runEndframeSectionsConformance(dir: string): Promise<ConformanceLine[]> {
  const json = JSON.parse(await readFile(join(dir, 'sections.json'), 'utf8')) as EndframeJson;
  const c = json.config;
  const lines: ConformanceLine[] = [];
  const total = totalLatentSections(c.total_second_length, c.latent_window_size);
  lines.push(exactLine('total_latent_sections', total, json.total_latent_sections));
  lines.push(exactLine('latent_paddings', latentPaddings(total), json.latent_paddings));
  const io = await SafetensorsStore.open(join(dir, 'io.safetensors'));
  try {
    const endLatent = await tensorOf(io, 'in.end_latent');
    const strength = json.runs.endframe.end_frame_strength;
    // The first section's 1× "post" latent is exactly end_latent · strength (one float32 multiply).
    const s0 = await tensorOf(io, 'endframe.s0.clean_latents');
    const post = sliceTime(s0, 1, 2);
    const packed = invertedDirection.packContext(invertedDirection.initialHistory(await tensorOf(io, 'in.start_latent'), { latent: endLatent, strength }), await tensorOf(io, 'in.start_latent'));
    lines.push(floatLine('endframe.s0.clean_latents[:, :, 1] = end_latent · strength (exact)', sliceTime(packed.cleanLatents, 1, 2).data, post.data, 0));
    await withTransformer(dir, async (transformer) => {
      for (const run of ['endframe', 'control'] as const) {
        const r = json.runs[run];
        lines.push(...(await runSectionLoop({
          label: run, direction: invertedDirection, transformer, io, prefix: `${run}.`, config: c, sections: r.sections,
          ...(r.end_frame ? { endFrame: { latent: endLatent, strength: r.end_frame_strength } } : {}),
        })));
      }
    });
  } finally {
    await io.close();
  }
  return lines;
}

async function readJson(path: string): Promise<unknown> {
  try { return JSON.parse(await readFile(path, 'utf8')); } catch { return undefined; }
}

export const f1SectionsConformance: ConformanceHandler = {
  kind: 'sections_f1',
  async detect(dir) {
    const j = (await readJson(join(dir, 'sections.json'))) as Partial<F1Json> | undefined;
    return j?.source?.file === 'demo_gradio_f1.py' && existsSync(join(dir, 'io.safetensors'));
  },
  run: runF1SectionsConformance,
};

export const endframeSectionsConformance: ConformanceHandler = {
  kind: 'sections_endframe',
  async detect(dir) {
    const j = (await readJson(join(dir, 'sections.json'))) as Partial<EndframeJson> | undefined;
    return j?.runs?.endframe !== undefined && j.runs.control !== undefined && existsSync(join(dir, 'io.safetensors'));
  },
  run: runEndframeSectionsConformance,
};
