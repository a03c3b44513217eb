// Options that cannot go together, one rule and one sentence each. Every entry point asks the same
// table: the chat adapters before queueing, the CLI before loading models, the engine before it
// reads saved progress (so a job that cannot run says why instead of failing later).
import type { JobOptions } from './job-options.ts';

/** What came with the options: the rules that depend on the job's inputs read these. */
export interface JobInputs {
  endImage: boolean;
}

interface CombinationRule {
  broken(options: JobOptions, inputs: JobInputs): boolean;
  sentence: string;
}

/** The sentence for an end image with F1 (the reference has no forward end frame). */
export const END_IMAGE_NEEDS_ORIGINAL =
  'An end image works only with model=original: F1 samples forward from the start image and has no end frame. Drop the end image or use model=original.';

export const COMBINATION_RULES: readonly CombinationRule[] = [
  // demo_gradio_f1.py has no end frame; FramePack-Studio's "F1 with Endframe" branch is unreachable.
  { broken: (o, inputs) => inputs.endImage && o.model === 'f1', sentence: END_IMAGE_NEEDS_ORIGINAL },
];

/** The sentences of the rules this job breaks (none: it can run). */
export function combinationErrors(options: JobOptions, inputs: JobInputs): string[] {
  return COMBINATION_RULES.filter((r) => r.broken(options, inputs)).map((r) => r.sentence);
}
