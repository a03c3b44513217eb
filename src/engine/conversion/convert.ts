// `recurvid convert`: walks the converter registry, each converter reading `${sources[repo]}/${subdir}`,
// and merges what they produce into `${out}/manifest.json`. Components whose source folder was not
// given are skipped (and said so), so a set can be converted piece by piece.
import { join } from 'node:path';
import type { Logger } from '../../log.ts';
import type { Precision, StorageDtype } from '../onnx/weights.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import type { AttentionKernel } from '../onnx/graph.ts';
import type { ComponentConverter } from '../modelset/component.ts';
import { ModelSetError, updateManifest, type ComponentManifest, type ComponentName, type ModelSetManifest, type SourceRepo } from '../modelset/manifest.ts';
import { componentConverters } from './registry.ts';

export interface ConvertModelSetOptions {
  sources: Partial<Record<SourceRepo, string>>;
  out: string;
  storage: StorageDtype;
  precision?: Precision;
  quant?: QuantSpec;
  attention?: AttentionKernel;
  log?: Logger;
  /** Defaults to the registry; tests pass a subset. */
  converters?: ComponentConverter[];
}

export interface ConvertModelSetResult {
  manifest: ModelSetManifest;
  converted: ComponentName[];
  skipped: Array<{ components: ComponentName[]; repo: SourceRepo }>;
}

export const converterSourceDir = (root: string, c: ComponentConverter): string =>
  c.source.subdir === '.' || c.source.subdir === '' ? root : join(root, c.source.subdir);

export async function convertModelSet(opts: ConvertModelSetOptions): Promise<ConvertModelSetResult> {
  const converters = opts.converters ?? componentConverters;
  const todo = converters.filter((c) => opts.sources[c.source.repo]);
  const skipped = converters.filter((c) => !opts.sources[c.source.repo]).map((c) => ({ components: c.components, repo: c.source.repo }));
  if (todo.length === 0) throw new ModelSetError('Nothing to convert: give at least one source folder (--framepack, --framepack-f1, --hunyuan or --redux).');
  // Validate everything first, so a missing shard is reported before hours of conversion.
  for (const c of todo) await c.validate(converterSourceDir(opts.sources[c.source.repo]!, c));
  const components: Partial<Record<ComponentName, ComponentManifest>> = {};
  const converted: ComponentName[] = [];
  let manifest: ModelSetManifest | undefined;
  for (const c of todo) {
    const src = converterSourceDir(opts.sources[c.source.repo]!, c);
    opts.log?.info({ components: c.components, src }, 'converting');
    for (const entry of await c.convert(src, opts.out, {
      storage: opts.storage,
      precision: opts.precision ?? 'fp32',
      ...(opts.quant ? { quant: opts.quant } : {}),
      ...(opts.attention ? { attention: opts.attention } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    })) {
      components[entry.component] = entry;
      converted.push(entry.component);
    }
    // Merge after each converter so an interrupted run keeps what is done.
    manifest = await updateManifest(opts.out, { tiny: false, components });
  }
  for (const s of skipped) opts.log?.info({ components: s.components, repo: s.repo }, 'skipped: no source folder given');
  return { manifest: manifest!, converted, skipped };
}
