// Every component converter, in conversion order. Each lives next to its graph builder; add one line here.
import type { ComponentConverter } from '../modelset/component.ts';
import { vaeConverter } from '../vae/component.ts';
import { transformerConverter, transformerF1Converter } from '../transformer/component.ts';
import { textEncoderConverter, textEncoder2Converter } from '../text/converters.ts';
import { imageEncoderConverter } from '../image/converter.ts';

export const componentConverters: ComponentConverter[] = [
  textEncoderConverter,
  textEncoder2Converter,
  imageEncoderConverter,
  vaeConverter,
  transformerConverter,
  transformerF1Converter,
];
