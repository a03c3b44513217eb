// The block-cache strategy the transformer consults on every call: decide whether the transformer
// blocks must run, remember what they added when they do, and hand back "input + last residual" when
// they don't. It lives with the transformer, which calls it; the sampler implements it (TeaCache in
// sampler/teacache.ts, MagCache in sampler/magcache.ts, built from settings by
// sampler/cache-strategies.ts), so imports run one way: sampler → transformer.

/** The token streams of one call: what the embed stage produced. */
export interface BlockStream {
  /** Image-stream tokens entering the blocks. */
  hidden: Float32Array;
  /** The first block's modulated input (TeaCache's signal). */
  modulated: Float32Array;
}

export interface BlockCache {
  readonly kind: 'teacache' | 'magcache';
  /** True when decisions compare the first block's modulated input between calls (TeaCache). */
  readonly probesModulation: boolean;
  /** True when this call must run the blocks. Called exactly once per transformer call. */
  shouldCompute(stream: BlockStream): boolean;
  /** After a computed call: the tokens before and after the blocks. */
  remember(hiddenBefore: Float32Array, hiddenAfter: Float32Array): void;
  /** On a skipped call: tokens before the blocks + the last computed residual (float32). */
  reuse(hiddenBefore: Float32Array): Float32Array;
  /** 0-based calls that skipped the blocks, in call order. */
  skippedCalls(): number[];
  /**
   * The same decision when the token streams stay on a device (WebGPU chaining), which keeps the
   * residual itself: `hasState` says whether a previous probe and a computed residual exist there,
   * `probeDistance` measures TeaCache's relative L1 there and is called only when needed.
   */
  decideOnDevice(hasState: boolean, probeDistance: () => Promise<number>): Promise<boolean>;
}
