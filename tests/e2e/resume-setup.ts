// Shared settings of the kill-and-resume test (parent and child must run the identical job).
import { jobOptions, type JobOptions } from '../../src/options/job-options.ts';
import type { JobQueueConfig } from '../../src/queue/index.ts';

/** A 64-pixel bucket keeps three tiny-model sections to a few seconds; the code path is the real one. */
export const RESUME_TEST_RESOLUTION = 64;

/** Three sections (window 3, 1.2 s), two steps each. */
export const resumeTestOptions = (): JobOptions =>
  jobOptions({ seconds: 1.2, steps: 2, windowSize: 3, previews: false, seed: 1234 });

export const queueConfig = (dataDir: string): JobQueueConfig => ({
  dataDir, queueMax: 10, perUser: 1, adminIds: [], retentionHours: 24, retentionMb: 1000,
});
