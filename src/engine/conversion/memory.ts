// Memory accounting: the bytes each component's weights occupy once loaded, per precision /
// quantization mode. The transformer and the LLaMA text encoder are rebuilt shapes-only from their
// config for every mode (no weights read); the other components report their files as stored, and
// what the CPU provider makes of them (half-precision initializers are widened to fp32 at load).
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder, uniqueWeightBytes } from '../onnx/graph.ts';
import { quantSpec, type QuantMode } from '../onnx/quant.ts';
import { shapeOnlyWeights, WeightBinder, type Precision } from '../onnx/weights.ts';
import { buildLlama, llamaParamShapes, type LlamaConfig } from '../text/llama.ts';
import { buildTransformerGraphs } from '../transformer/build.ts';
import { officialParamShapes, parseTransformerConfig } from '../transformer/config.ts';
import type { ComponentManifest, ModelSetManifest } from '../modelset/manifest.ts';
import { precisionLabel } from '../modelset/precision.ts';

export interface ModeBytes {
  mode: string;
  bytes: number;
}

export interface ComponentMemory {
  component: string;
  /** This set's own mode. */
  converted: string;
  /** Per mode (transformer, text_encoder), or the stored size and the CPU-loaded size (others). */
  modes: ModeBytes[];
}

const MODES: Array<{ mode: string; precision: Precision; quant: QuantMode }> = [
  { mode: 'fp32', precision: 'fp32', quant: 'none' },
  { mode: 'fp16', precision: 'fp16', quant: 'none' },
  { mode: 'int8/64', precision: 'fp16', quant: 'int8' },
  { mode: 'int4/64', precision: 'fp16', quant: 'int4' },
  { mode: 'int8 dynamic', precision: 'fp32', quant: 'int8-dynamic' },
];

export function transformerModeBytes(config: unknown): ModeBytes[] {
  const cfg = parseTransformerConfig(config);
  const shapes = shapeOnlyWeights(officialParamShapes(cfg));
  return MODES.map((m) => {
    const quant = quantSpec(m.quant, 64);
    const graphs = buildTransformerGraphs(cfg, shapes, { storage: 'fp32', precision: m.precision, ...(quant ? { quant } : {}) });
    return { mode: m.mode, bytes: uniqueWeightBytes(graphs.map((g) => g.graph)) };
  });
}

/** The LLaMA encoder computes in float32; an fp16 set stores fp16 weights (fp32 scales when quantized). */
export function llamaModeBytes(config: LlamaConfig, hiddenStateIndex: number): ModeBytes[] {
  return MODES.map((m) => {
    const g = new GraphBuilder('llama');
    const quant = quantSpec(m.quant, 64);
    const w = new WeightBinder(g, shapeOnlyWeights(llamaParamShapes(config)), { storage: m.precision === 'fp16' ? 'fp16' : 'fp32', ...(quant ? { quant } : {}) });
    buildLlama(w, config, { hiddenStateIndex });
    return { mode: m.mode, bytes: g.weightBytes };
  });
}

async function storedBytes(dir: string, c: ComponentManifest): Promise<number> {
  let total = 0;
  for (const rel of Object.values(c.files)) {
    const data = join(dir, `${rel}.data`);
    if (rel.endsWith('.onnx') && existsSync(data)) total += (await stat(data)).size;
  }
  return total;
}

export async function modelSetMemory(dir: string, m: ModelSetManifest): Promise<ComponentMemory[]> {
  const out: ComponentMemory[] = [];
  for (const c of Object.values(m.components)) {
    if (!c || c.dtype === 'none') continue;
    const converted = precisionLabel(c.precision, c.quant);
    if (c.component === 'transformer') {
      out.push({ component: c.component, converted, modes: transformerModeBytes(c.config) });
    } else if (c.component === 'text_encoder') {
      out.push({ component: c.component, converted, modes: llamaModeBytes(c.config as LlamaConfig, (c.extra?.hidden_state_index as number | undefined) ?? -3) });
    } else {
      const stored = await storedBytes(dir, c);
      const half = c.dtype === 'fp16' || c.dtype === 'bf16';
      const modes = [{ mode: `stored ${c.dtype}`, bytes: stored }];
      if (half && (c.precision ?? 'fp32') === 'fp32') modes.push({ mode: 'on CPU (widened to fp32)', bytes: stored * 2 });
      out.push({ component: c.component, converted: `${converted}, ${c.dtype} weights`, modes });
    }
  }
  return out;
}

const gb = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);

export function formatMemory(rows: ComponentMemory[]): string[] {
  return rows.map((r) => `  ${r.component} [${r.converted}]: ${r.modes.map((m) => `${m.mode} ${gb(m.bytes)}`).join(', ')}`);
}
