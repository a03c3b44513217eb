// The conditioning of a job, encoded once at its start (and saved in its checkpoint, so no encoder
// runs again on resume): the prompt's LLaMA and CLIP vectors (and the negative prompt's), the start
// image's SigLIP embeddings and VAE latent, and the end image's latent when there is one.
import { cropOrPadYieldMask, type Tensor } from '../functions/index.ts';
import { EngineCancelledError, type EngineJob, type EngineStage } from '../types.ts';
import type { ComponentPool } from './components.ts';
import { imageToPixels, prepareStartImage } from './image.ts';

/** FramePack pads / crops the LLaMA vector to this many tokens, with a mask. */
export const TEXT_TOKENS = 512;

export interface Conditioning {
  llamaVec: Tensor; llamaMask: Uint8Array; clipPooled: Tensor;
  llamaVecN: Tensor; llamaMaskN: Uint8Array; clipPooledN: Tensor;
  imageEmbeddings: Tensor; startLatent: Tensor;
  /** VAE latent of the end image (original model only), before its strength is applied. */
  endLatent?: Tensor;
}

export async function encodeConditioning(
  job: EngineJob, pool: ComponentPool, settings: { resolution: number },
  emitStage: (s: EngineStage, d?: string) => void, timed: <T>(stage: string, fn: () => Promise<T>) => Promise<T>,
): Promise<Conditioning> {
  const o = job.options;
  emitStage('loading', 'text encoders');
  emitStage('encoding_text');
  const text = await pool.get('text');
  const { pos, neg } = await timed('encoding_text', async () => {
    const p = await text.encode(o.prompt);
    // With cfg = 1 the negative branch is never evaluated; FramePack passes zeros.
    const n = o.cfg === 1 ? { llamaVec: zerosLike(p.llamaVec), clipPooled: zerosLike(p.clipPooled) } : await text.encode(o.negativePrompt);
    return { pos: p, neg: n };
  });
  await pool.release('text');
  throwIfCancelled(job.signal);
  const padded = cropOrPadYieldMask(pos.llamaVec, TEXT_TOKENS);
  const paddedN = cropOrPadYieldMask(neg.llamaVec, TEXT_TOKENS);

  emitStage('encoding_image');
  const img = await timed('encoding_image', () => prepareStartImage(job.imagePath, settings.resolution));
  const vae = await pool.get('vae');
  const startLatent = await timed('encoding_image', () => vae.encode(imageToPixels(img)));
  // The end image: resized to the start image's bucket and VAE-encoded; never CLIP-encoded (the model
  // gets the start image's embeddings only, as FramePack-Studio's "Original with Endframe").
  const endLatent = job.endImagePath
    ? await timed('encoding_image', async () => vae.encode(imageToPixels(await prepareStartImage(job.endImagePath!, settings.resolution, { width: img.width, height: img.height }))))
    : undefined;
  await pool.release('vae');
  throwIfCancelled(job.signal);
  const siglip = await pool.get('image');
  const imageEmbeddings = await timed('encoding_image', () => siglip.encode(img.rgb, img.width, img.height));
  await pool.release('image');
  return {
    llamaVec: padded.y, llamaMask: padded.mask, clipPooled: pos.clipPooled,
    llamaVecN: paddedN.y, llamaMaskN: paddedN.mask, clipPooledN: neg.clipPooled,
    imageEmbeddings, startLatent, ...(endLatent ? { endLatent } : {}),
  };
}

function zerosLike(t: Tensor): Tensor {
  return { data: new Float32Array(t.data.length), dims: [...t.dims] };
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new EngineCancelledError();
}
