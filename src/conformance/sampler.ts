// Conformance of the sampler (UniPC + fm wrapper + TeaCache) on the golden tiny transformer:
// tests/fixtures/golden/sampler/{plain,teacache,teacache_thresh_0.3}. The transformer folder is
// converted with the transformer converter into a temporary model set, then every subfolder is
// sampled with its injected noise and compared step by step.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsStore } from '../engine/safetensors.ts';
import { updateManifest } from '../engine/modelset/manifest.ts';
import { convertTransformer } from '../engine/transformer/component.ts';
import { PackedTransformer } from '../engine/transformer/runtime.ts';
import { bindVelocityModel, TEACACHE_DEFAULT_THRESHOLD } from '../engine/sampler/index.ts';
import { exactLine, floatLine } from './functions.ts';
import { intsOf, readGoldenSchedule, readSectionContext, sampleAgainstGolden, tensorOf } from './golden-io.ts';
import type { ConformanceHandler, ConformanceLine } from './types.ts';

const ATOL = 2e-4;

interface TeaCacheTrace { rel_l1_thresh: number; num_steps: number; steps: Array<{ computed: boolean; rel_l1?: number }> }


/** Runs one golden subfolder (io.safetensors [+ teacache_trace.json]) with the given transformer. */
export async function runSamplerCase(caseDir: string, transformer: PackedTransformer, label: string): Promise<ConformanceLine[]> {
  const io = await SafetensorsStore.open(join(caseDir, 'io.safetensors'));
  const tracePath = join(caseDir, 'teacache_trace.json');
  const trace = existsSync(tracePath) ? (JSON.parse(await readFile(tracePath, 'utf8')) as TeaCacheTrace) : undefined;
  const lines: ConformanceLine[] = [];
  try {
    const schedule = await readGoldenSchedule(io, label);
    lines.push(schedule.sigmasLine);
    const mask = Uint8Array.from(await intsOf(io, 'in.encoder_attention_mask'));
    const negMask = io.has('in.negative_encoder_attention_mask') ? Uint8Array.from(await intsOf(io, 'in.negative_encoder_attention_mask')) : mask;
    const handle = bindVelocityModel(transformer, {
      positive: { llamaVec: await tensorOf(io, 'in.encoder_hidden_states'), llamaMask: mask, clipPooled: await tensorOf(io, 'in.pooled_projections') },
      negative: { llamaVec: await tensorOf(io, 'in.negative_prompt_embeds'), llamaMask: negMask, clipPooled: await tensorOf(io, 'in.negative_pooled_projections') },
      imageEmbeddings: await tensorOf(io, 'in.image_embeddings'),
      distilledCfg: 10,
      section: await readSectionContext(io, schedule.latentShape),
      ...(trace ? { cache: { kind: 'teacache' as const, numSteps: trace.num_steps, threshold: trace.rel_l1_thresh ?? TEACACHE_DEFAULT_THRESHOLD } } : {}),
    });
    const sampled = await sampleAgainstGolden(io, label, handle.model, schedule, ATOL);
    lines.push(sampled.timestepsLine, ...sampled.stepLines);
    if (trace) {
      const got = handle.traces.positive!.trace;
      lines.push(exactLine(`${label}.teacache.computed`, got.map((d) => d.computed), trace.steps.map((s) => s.computed)));
      const relGot = got.map((d) => d.relL1 ?? 0);
      const relWant = trace.steps.map((s) => s.rel_l1 ?? 0);
      lines.push(floatLine(`${label}.teacache.rel_l1`, relGot, relWant, 1e-4, 'float noise of the transformer only'));
    }
  } finally {
    await io.close();
  }
  return lines;
}

/** Converts `<dir>/transformer` into a temporary model set and opens it. */
export async function openGoldenTransformer(dir: string): Promise<{ transformer: PackedTransformer; dispose(): Promise<void> }> {
  const out = await mkdtemp(join(tmpdir(), 'recurvid-sampler-'));
  try {
    const entry = await convertTransformer(join(dir, 'transformer'), out, { storage: 'fp32' });
    await updateManifest(out, { name: 'golden-sampler', tiny: true, components: { transformer: entry } });
    const transformer = await PackedTransformer.load(out);
    return { transformer, dispose: async () => { await transformer.close(); await rm(out, { recursive: true, force: true }); } };
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    throw err;
  }
}

/** The traced cases of a sampler-style set: its sub-folders that hold an io.safetensors, sorted. */
export async function traceCaseNames(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'io.safetensors')))
    .map((d) => d.name)
    .sort();
}

/** Runs every traced case of `dir` on the golden transformer in `transformerDir`, then closes it. */
export async function runTraceCases(
  dir: string,
  transformerDir: string,
  runCase: (caseDir: string, name: string, transformer: PackedTransformer) => Promise<ConformanceLine[]>,
  lines: ConformanceLine[] = [],
): Promise<ConformanceLine[]> {
  const { transformer, dispose } = await openGoldenTransformer(transformerDir);
  try {
    for (const name of await traceCaseNames(dir)) lines.push(...(await runCase(join(dir, name), name, transformer)));
    return lines;
  } finally {
    await dispose();
  }
}

export function runSamplerConformance(dir: string): Promise<ConformanceLine[]> {
  return runTraceCases(dir, dir, (caseDir, name, transformer) => runSamplerCase(caseDir, transformer, name));
}

export const samplerConformance: ConformanceHandler = {
  kind: 'sampler',
  async detect(dir) {
    return existsSync(join(dir, 'transformer', 'config.json')) && existsSync(join(dir, 'plain', 'io.safetensors'));
  },
  run: runSamplerConformance,
};
