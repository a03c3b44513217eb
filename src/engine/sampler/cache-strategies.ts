// The block caches behind the BlockCache interface (./block-cache.ts), chosen by settings: TeaCache
// (wrapped, its own class keeps the reference's API) or MagCache. Kept apart from the interface so
// the caches themselves depend only on the interface.
import type { BlockCache, BlockStream } from '../transformer/block-cache.ts';
import { TeaCache } from './teacache.ts';
import { MagCache, type MagCacheParams } from './magcache.ts';
import type { MagCacheFamily } from './magcache-ratios.ts';

export type BlockCacheSettings =
  | { kind: 'teacache'; numSteps: number; threshold: number }
  | ({ kind: 'magcache'; numSteps: number; family: MagCacheFamily } & Partial<MagCacheParams>);

/** TeaCache behind the strategy interface (its own class keeps its reference-shaped API). */
export class TeaCacheStrategy implements BlockCache {
  readonly kind = 'teacache' as const;
  readonly probesModulation = true;
  constructor(readonly cache: TeaCache) {}
  shouldCompute(stream: BlockStream): boolean { return this.cache.decide(stream.modulated); }
  remember(before: Float32Array, after: Float32Array): void { this.cache.remember(before, after); }
  reuse(before: Float32Array): Float32Array { return this.cache.reuse(before); }
  skippedCalls(): number[] { return this.cache.trace.filter((d) => !d.computed).map((d) => d.call); }
  decideOnDevice(hasState: boolean, probeDistance: () => Promise<number>): Promise<boolean> { return this.cache.decideWith(hasState, probeDistance); }
}

/**
 * One cache state for a section. `pixelSize` is the bucket in pixels (MagCache picks its ratio table
 * by it); latent sizes are ×8.
 */
export function createBlockCache(settings: BlockCacheSettings, pixelSize: { height: number; width: number }): BlockCache {
  if (settings.kind === 'teacache') return new TeaCacheStrategy(new TeaCache(settings.numSteps, settings.threshold));
  const { kind: _kind, ...params } = settings;
  return new MagCache({ ...params, ...pixelSize });
}
