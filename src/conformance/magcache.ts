// Conformance of MagCache (FramePack-Studio's mag_cache.py inside sample_hunyuan) on the golden tiny
// transformer: tests/fixtures/golden/magcache/{plain, magcache*}. Every folder is sampled with its
// injected noise through the pipeline's velocity model with the MagCache strategy; skip decisions,
// the accumulated state at each decision and the reused residual's call are compared exactly, the
// latents at the README's tolerance. mag_ratios_selection.json checks the table choice and resampling.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsStore } from '../engine/safetensors.ts';
import type { Tensor } from '../engine/functions/index.ts';
import {
  bindVelocityModel, MagCache, selectMagRatios,
  type EmbedLike, type MagCacheFamily, type StagedTransformer,
} from '../engine/sampler/index.ts';
import { exactLine, floatLine } from './functions.ts';
import { intsOf, readGoldenSchedule, readSectionContext, sampleAgainstGolden, tensorOf } from './golden-io.ts';
import { goldenTransformerRoot } from './sections.ts';
import { runTraceCases } from './sampler.ts';
import type { ConformanceHandler, ConformanceLine } from './types.ts';

/** README: atol 2e-4 on latents / x / denoised / dbg; 1e-6 on sigmas; 1e-3 on timesteps (float32 of ~1000). */
const ATOL = 2e-4;
/** Accumulated ratio / error are float64 in both; they only differ by printing. */
const STATE_ATOL = 1e-12;

interface TraceCall {
  call: number; step_index: number; eligible: boolean; skipped: boolean; mag_ratio?: number;
  accumulated_ratio_at_decision?: number; accumulated_err_at_decision?: number; accumulated_steps_at_decision?: number;
  reused_residual_from_call?: number;
}
interface MagTrace {
  model_family: MagCacheFamily; height: number; width: number; num_steps: number; threshold: number;
  max_consectutive_skips: number; retention_ratio: number; mag_ratios_used: number[]; steps_skipped_list: number[]; calls: TraceCall[];
}
interface SelectionCase {
  model_family: MagCacheFamily; height: number; width: number; num_steps: number;
  closest_resolution_key: number; closest_steps_key: number; table_indices: number[]; mag_ratios: number[];
}


/** Records what enters and leaves the blocks per call (computed or reused), like the set's dbg.* tensors. */
function recording<E extends EmbedLike>(t: StagedTransformer<E>): { transformer: StagedTransformer<E>; blockIn: Float32Array[]; blockOut: Float32Array[] } {
  const blockIn: Float32Array[] = [];
  const blockOut: Float32Array[] = [];
  return {
    blockIn, blockOut,
    transformer: {
      async embed(inputs) { const e = await t.embed(inputs); blockIn.push(Float32Array.from(e.hidden.data)); return e; },
      blocks: (e) => t.blocks(e),
      async head(e, after) { blockOut.push(Float32Array.from(after.data)); return t.head(e, after); },
    },
  };
}

/**
 * One traced case. `recordBlocks` (default) wraps the transformer's stages to compare the block
 * inputs/outputs too; without it the transformer runs as given, e.g. chained on a device (runStep).
 */
export async function runMagCacheCase(
  caseDir: string,
  label: string,
  golden: StagedTransformer<EmbedLike>,
  opts: { recordBlocks?: boolean } = {},
): Promise<ConformanceLine[]> {
  const io = await SafetensorsStore.open(join(caseDir, 'io.safetensors'));
  const tracePath = join(caseDir, 'magcache_trace.json');
  const trace = existsSync(tracePath) ? (JSON.parse(await readFile(tracePath, 'utf8')) as MagTrace) : undefined;
  const lines: ConformanceLine[] = [];
  try {
    const schedule = await readGoldenSchedule(io, label);
    lines.push(schedule.sigmasLine);
    const mask = Uint8Array.from(await intsOf(io, 'in.encoder_attention_mask'));
    const zeros = (x: Tensor): Tensor => ({ data: new Float32Array(x.data.length), dims: [...x.dims] });
    const llamaVec = await tensorOf(io, 'in.encoder_hidden_states');
    const clipPooled = await tensorOf(io, 'in.pooled_projections');
    const rec = opts.recordBlocks === false ? undefined : recording(golden);
    const handle = bindVelocityModel(rec?.transformer ?? golden, {
      positive: { llamaVec, llamaMask: mask, clipPooled },
      negative: { llamaVec: zeros(llamaVec), llamaMask: mask, clipPooled: zeros(clipPooled) },
      imageEmbeddings: await tensorOf(io, 'in.image_embeddings'),
      distilledCfg: 10,
      section: await readSectionContext(io, schedule.latentShape),
      ...(trace ? {
        cache: {
          kind: 'magcache', family: trace.model_family, numSteps: trace.num_steps, threshold: trace.threshold,
          maxConsecutiveSkips: trace.max_consectutive_skips, retentionRatio: trace.retention_ratio,
        },
      } : {}),
    });
    const sampled = await sampleAgainstGolden(io, label, handle.model, schedule, ATOL);
    lines.push(sampled.timestepsLine);
    if (trace) {
      const cache = handle.caches.positive;
      if (!(cache instanceof MagCache)) throw new Error('The velocity model did not use MagCache.');
      // The table our own selection derives for the set's pixel bucket (48×64 = latents ×8).
      lines.push(floatLine(`${label}.mag_ratios_used`, cache.ratios, trace.mag_ratios_used, 0));
      lines.push(exactLine(`${label}.steps_skipped_list`, cache.skippedCalls(), trace.steps_skipped_list));
      lines.push(exactLine(`${label}.decisions (call, step, eligible, skipped, reused from)`,
        cache.trace.map((d) => [d.call, d.stepIndex, d.eligible, d.skipped, d.reusedFrom ?? null]),
        trace.calls.map((d) => [d.call, d.step_index, d.eligible, d.skipped, d.reused_residual_from_call ?? null])));
      lines.push(exactLine(`${label}.accumulated steps at decisions`,
        cache.trace.map((d) => d.accumulatedSteps ?? null), trace.calls.map((d) => d.accumulated_steps_at_decision ?? null)));
      const state = (xs2: Array<number | undefined>) => xs2.map((v) => v ?? 0);
      lines.push(floatLine(`${label}.accumulated ratio / err at decisions`,
        [...state(cache.trace.map((d) => d.accumulatedRatio)), ...state(cache.trace.map((d) => d.accumulatedErr))],
        [...state(trace.calls.map((d) => d.accumulated_ratio_at_decision)), ...state(trace.calls.map((d) => d.accumulated_err_at_decision))], STATE_ATOL));
    }
    lines.push(...sampled.stepLines);
    for (let i = 0; rec && io.has(`dbg.block_input.${i}`); i++) {
      lines.push(floatLine(`${label}.dbg.block_input.${i}`, rec.blockIn[i] ?? [], await io.readFloat32(`dbg.block_input.${i}`), ATOL));
      lines.push(floatLine(`${label}.dbg.block_output.${i}`, rec.blockOut[i] ?? [], await io.readFloat32(`dbg.block_output.${i}`), ATOL));
    }
  } finally {
    await io.close();
  }
  return lines;
}

/** Table selection and step resampling for every case of mag_ratios_selection.json. */
export async function magRatioSelectionLines(path: string): Promise<ConformanceLine[]> {
  const cases = JSON.parse(await readFile(path, 'utf8')) as SelectionCase[];
  const got = cases.map((c) => {
    const s = selectMagRatios(c.model_family, c.height, c.width, c.num_steps);
    return [s.resolution, s.calibratedSteps, s.indices, s.ratios];
  });
  const want = cases.map((c) => [c.closest_resolution_key, c.closest_steps_key, c.table_indices, c.mag_ratios]);
  const bad = got.map((g, i) => (JSON.stringify(g) === JSON.stringify(want[i]) ? -1 : i)).filter((i) => i >= 0);
  const line = exactLine(`mag_ratios_selection (${cases.length} cases: resolution key, step key, indices, ratios)`, got, want);
  if (!line.pass) line.note = `${bad.length} cases differ, first: ${JSON.stringify(cases[bad[0]!])} got ${JSON.stringify(got[bad[0]!])}`;
  return [line];
}

export async function runMagCacheConformance(dir: string): Promise<ConformanceLine[]> {
  const lines = await magRatioSelectionLines(join(dir, 'mag_ratios_selection.json'));
  const root = goldenTransformerRoot(dir);
  if (!root) throw new Error(`No golden transformer at ${join(dir, 'transformer')} or next to it in ../sampler/transformer.`);
  return runTraceCases(dir, root, (caseDir, name, transformer) => runMagCacheCase(caseDir, name, transformer), lines);
}

export const magcacheConformance: ConformanceHandler = {
  kind: 'magcache',
  async detect(dir) {
    return existsSync(join(dir, 'mag_ratios_selection.json')) && existsSync(join(dir, 'plain', 'io.safetensors'));
  },
  run: runMagCacheConformance,
};
