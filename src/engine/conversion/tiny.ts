// `recurvid models tiny`: for every registered converter, write a tiny official-format folder with
// seeded random weights into `<out>/.src/<repo>/<subdir>`, then convert it like real weights.
// The result is a complete model set whose video is noise, by design (manifest tiny = true).
import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Logger } from '../../log.ts';
import type { ComponentConverter } from '../modelset/component.ts';
import type { Precision } from '../onnx/weights.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import type { AttentionKernel } from '../onnx/graph.ts';
import { converterSourceDir } from './convert.ts';
import { updateManifest, type ComponentManifest, type ComponentName, type ModelSetManifest } from '../modelset/manifest.ts';
import { componentConverters } from './registry.ts';

export interface TinyModelSetOptions {
  seed?: number;
  log?: Logger;
  precision?: Precision;
  quant?: QuantSpec;
  attention?: AttentionKernel;
  converters?: ComponentConverter[];
}

export async function makeTinyModelSet(outDir: string, opts: TinyModelSetOptions = {}): Promise<ModelSetManifest> {
  const seed = opts.seed ?? 0;
  const converters = opts.converters ?? componentConverters;
  const components: Partial<Record<ComponentName, ComponentManifest>> = {};
  let manifest: ModelSetManifest | undefined;
  for (const c of converters) {
    const src = converterSourceDir(join(outDir, '.src', c.source.repo), c);
    await mkdir(src, { recursive: true });
    opts.log?.info({ components: c.components, src }, 'writing tiny source weights');
    await c.makeTiny(src, seed);
    for (const entry of await c.convert(src, outDir, {
      storage: 'fp32',
      precision: opts.precision ?? 'fp32',
      ...(opts.quant ? { quant: opts.quant } : {}),
      ...(opts.attention ? { attention: opts.attention } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    })) {
      components[entry.component] = entry;
    }
    manifest = await updateManifest(outDir, { name: basename(resolve(outDir)), tiny: true, components });
  }
  return manifest ?? (await updateManifest(outDir, { name: basename(resolve(outDir)), tiny: true, components }));
}
