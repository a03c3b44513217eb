// The transformer as the sampler sees it: three stages (embed → blocks → head), so a block cache
// (TeaCache, MagCache) can decide between embed and blocks whether the blocks must run. PackedTransformer
// (src/engine/transformer/runtime.ts) fits this shape; the benchmark plugs in a no-op one.
import type { Tensor } from '../functions/tensor.ts';
import type { TransformerInputs } from '../transformer/runtime.ts';
import type { GuidanceBranch, VelocityModel } from './guidance.ts';
import type { TeaCache } from './teacache.ts';
import type { BlockCache } from '../transformer/block-cache.ts';
import { createBlockCache, TeaCacheStrategy, type BlockCacheSettings } from './cache-strategies.ts';

/** Everything one packed-transformer call takes: the transformer runtime's own input type. */
export type PackedInputs = TransformerInputs;

/** What the embed stage must expose for TeaCache: the token stream and the modulated input. */
export interface EmbedLike {
  hidden: Tensor;
  modulated: Tensor;
}

export interface StagedTransformer<E extends EmbedLike = EmbedLike> {
  embed(inputs: PackedInputs): Promise<E>;
  blocks(e: E): Promise<Tensor>;
  head(e: E, hiddenAfterBlocks: Tensor): Promise<Tensor>;
  /** One whole call, when the runtime does it cheaper than the three stages (one graph per step). */
  forward?(inputs: PackedInputs): Promise<Tensor>;
  /** True when forward() should be used for calls that need no TeaCache probe. */
  readonly prefersForward?: boolean;
  /** The whole call, TeaCache included, where the runtime keeps the tensors on its device. */
  readonly runStep?: (inputs: PackedInputs, cache?: BlockCache) => Promise<Tensor>;
}

/** Text conditioning for one guidance branch (LLaMA vector padded to 512 with its mask, CLIP pooled). */
export interface TextConditioning {
  llamaVec: Tensor;
  llamaMask: Uint8Array;
  clipPooled: Tensor;
}

/** Section-constant inputs: context latents and indices from the section plan. */
export type SectionContext = Pick<
  PackedInputs,
  | 'latentIndices'
  | 'cleanLatents'
  | 'cleanLatentIndices'
  | 'cleanLatents2x'
  | 'cleanLatent2xIndices'
  | 'cleanLatents4x'
  | 'cleanLatent4xIndices'
> & { latentDims: [number, number, number, number, number] };

export interface VelocityModelOptions {
  positive: TextConditioning;
  negative: TextConditioning;
  imageEmbeddings: Tensor;
  /** Distilled guidance scale; the transformer gets it ×1000. */
  distilledCfg: number;
  section: SectionContext;
  /** The block cache (TeaCache or MagCache), one state per guidance branch (see README note on cfg > 1). */
  cache?: BlockCacheSettings;
}

export interface VelocityModelHandle {
  model: VelocityModel;
  /** TeaCache decisions per branch, in call order (undefined without TeaCache). */
  traces: Record<GuidanceBranch, TeaCache | undefined>;
  /** The block cache of each branch (undefined without a cache). */
  caches: Record<GuidanceBranch, BlockCache | undefined>;
}

/**
 * Binds a staged transformer to one section's conditioning. With cfg > 1 the reference shares one
 * TeaCache counter between both branches (its count then runs out of step with the sampler); we keep
 * one state per branch instead, which equals the reference exactly for cfg = 1.
 */
export function bindVelocityModel<E extends EmbedLike>(transformer: StagedTransformer<E>, opts: VelocityModelOptions): VelocityModelHandle {
  const s = opts.section;
  const settings = opts.cache;
  // The bucket in pixels (latents are 8× smaller): MagCache picks its ratio table by it.
  const pixelSize = { height: s.latentDims[3] * 8, width: s.latentDims[4] * 8 };
  const caches: Record<GuidanceBranch, BlockCache | undefined> = {
    positive: settings ? createBlockCache(settings, pixelSize) : undefined,
    negative: settings ? createBlockCache(settings, pixelSize) : undefined,
  };
  const teaOf = (c: BlockCache | undefined) => (c instanceof TeaCacheStrategy ? c.cache : undefined);
  const guidance = Math.fround(opts.distilledCfg * 1000);
  const model: VelocityModel = async (x, timestep, branch) => {
    const text = branch === 'positive' ? opts.positive : opts.negative;
    const inputs: PackedInputs = {
      hiddenStates: { data: x, dims: [...s.latentDims] },
      timestep,
      guidance,
      encoderHiddenStates: text.llamaVec,
      encoderAttentionMask: text.llamaMask,
      pooledProjections: text.clipPooled,
      imageEmbeddings: opts.imageEmbeddings,
      latentIndices: s.latentIndices,
      cleanLatents: s.cleanLatents,
      cleanLatentIndices: s.cleanLatentIndices,
      cleanLatents2x: s.cleanLatents2x,
      cleanLatent2xIndices: s.cleanLatent2xIndices,
      cleanLatents4x: s.cleanLatents4x,
      cleanLatent4xIndices: s.cleanLatent4xIndices,
    };
    const cache = caches[branch];
    if (transformer.runStep) return (await transformer.runStep(inputs, cache)).data;
    if (!cache && transformer.prefersForward && transformer.forward) return (await transformer.forward(inputs)).data;
    const e = await transformer.embed(inputs);
    let after: Tensor;
    if (!cache) {
      after = await transformer.blocks(e);
    } else if (cache.shouldCompute({ hidden: e.hidden.data, modulated: e.modulated.data })) {
      after = await transformer.blocks(e);
      cache.remember(e.hidden.data, after.data);
    } else {
      after = { data: cache.reuse(e.hidden.data), dims: e.hidden.dims };
    }
    return (await transformer.head(e, after)).data;
  };
  return { model, caches, traces: { positive: teaOf(caches.positive), negative: teaOf(caches.negative) } };
}
