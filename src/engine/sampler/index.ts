// The FramePack sampler: UniPC over flow matching, guidance, TeaCache, and the transformer binding.
export * from './unipc.ts';
export * from './guidance.ts';
export * from './teacache.ts';
export * from './model.ts';
