// Turns an upload into what a vision model needs: a modest JPEG data URL. Small images keep the
// request cheap and fast; 768 px on the long side is plenty to describe motion.
import sharp from 'sharp';
import { PromptHelperError } from './types.ts';

export const HELPER_IMAGE_MAX_SIDE = 768;

export async function imageDataUrl(image: Buffer, maxSide = HELPER_IMAGE_MAX_SIDE): Promise<string> {
  try {
    const jpeg = await sharp(image, { limitInputPixels: 100_000_000 })
      .rotate() // apply EXIF orientation, the model should see what the user sees
      .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 85 })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    throw new PromptHelperError('bad_image', 'The prompt helper could not read that image.');
  }
}
