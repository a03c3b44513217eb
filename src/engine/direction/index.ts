// Sampling directions by model: the original FramePack model samples inverted, F1 forward.
import { forwardDirection } from './forward.ts';
import { invertedDirection } from './inverted.ts';
import type { SamplingDirection } from './types.ts';
import type { ModelVariant } from '../../options/job-options.ts';

export * from './types.ts';
export { forwardDirection, forwardSectionIndices } from './forward.ts';
export { invertedDirection } from './inverted.ts';


export function directionFor(model: ModelVariant): SamplingDirection {
  return model === 'f1' ? forwardDirection : invertedDirection;
}
