// A transformer that does nothing, at FramePack's real 640-bucket shapes (544×704 → latent 68×88,
// window 9; noisy + 1×/2×/4× context = 17 226 packed tokens × 3 072 wide), so a benchmark times only
// our own per-step work: embed hands out preallocated token streams, blocks are the identity. Two
// modulated inputs 1 % apart alternate, so TeaCache's relative-L1 pass is real work.
import type { Tensor } from '../src/engine/functions/index.ts';
import type { TransformerLike } from '../src/engine/pipeline/components.ts';
import type { EmbedLike } from '../src/engine/sampler/index.ts';

export const LATENT = { t: 9, h: 68, w: 88 } as const;
export const HIDDEN = 3072;
export const TOKENS = 9 * 34 * 44 + 2 * 34 * 44 + 1 * 17 * 22 + 4 * 9 * 11;

export const zeros = (dims: number[]): Tensor => ({ data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims });

/** `fullSizeTokens: false` keeps one token (for runs that need no cache-sized tensors). */
export function noOpTransformer(fullSizeTokens = true): TransformerLike & { embed(): Promise<EmbedLike> } {
  const tokens = fullSizeTokens ? TOKENS : 1;
  const hidden = zeros([1, tokens, HIDDEN]);
  const modulated = [zeros([1, tokens, HIDDEN]), zeros([1, tokens, HIDDEN])];
  for (let i = 0; i < modulated[0]!.data.length; i++) {
    modulated[0]!.data[i] = ((i * 2654435761) >>> 0) / 4294967296 - 0.5;
    modulated[1]!.data[i] = modulated[0]!.data[i]! * 1.01;
  }
  const out = zeros([1, 16, LATENT.t, LATENT.h, LATENT.w]);
  let calls = 0;
  return {
    async embed() { return { hidden, modulated: modulated[calls++ % 2]! }; },
    async blocks(e) { return e.hidden; },
    async head() { return out; },
    async close() {},
  };
}
