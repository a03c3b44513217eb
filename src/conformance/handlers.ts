// Every kind of golden set we can check. Each handler lives in its own module; add one line here.
import type { ConformanceHandler } from './types.ts';
import { functionsConformance } from './functions.ts';
import { samplerConformance } from './sampler.ts';
import { vaeConformance } from './vae.ts';
import { transformerConformance } from './transformer.ts';
import { textEncoderConformanceHandlers } from './text_encoders.ts';
import { endframeSectionsConformance, f1SectionsConformance } from './sections.ts';
import { magcacheConformance } from './magcache.ts';

export const conformanceHandlers: ConformanceHandler[] = [
  vaeConformance,
  transformerConformance,
  functionsConformance,
  samplerConformance,
  f1SectionsConformance,
  endframeSectionsConformance,
  magcacheConformance,
  ...textEncoderConformanceHandlers,
];
