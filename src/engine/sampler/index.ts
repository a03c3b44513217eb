// The FramePack sampler: UniPC over flow matching, guidance, TeaCache / MagCache, and the transformer binding.
export * from './unipc.ts';
export * from './guidance.ts';
export * from './teacache.ts';
export type { BlockCache, BlockStream } from '../transformer/block-cache.ts';
export * from './cache-strategies.ts';
export * from './magcache.ts';
export * from './magcache-ratios.ts';
export * from './model.ts';
