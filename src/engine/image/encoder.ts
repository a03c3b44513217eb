// Builds the SigLIP image encoder's graph from an official folder, through the shared encoder
// builder of the text folder (the image encoder reuses CLIP's layers; text never needs image).
import { buildEncoderWith, type BuildOptions, type BuiltEncoder, type EncoderBuild } from '../text/build.ts';
import { buildSiglipVision, siglipPrefix, type SiglipVisionConfig } from './siglip.ts';

export const SIGLIP_KIND = 'siglip_vision_model';

const buildSiglip: EncoderBuild = (binder, config, has, opts) =>
  buildSiglipVision(binder, config as unknown as SiglipVisionConfig, { prefix: siglipPrefix(has), withPooler: opts.withPooler ?? false });

export function buildImageEncoder(dir: string, opts: BuildOptions = {}): Promise<BuiltEncoder> {
  return buildEncoderWith(dir, SIGLIP_KIND, buildSiglip, opts);
}
