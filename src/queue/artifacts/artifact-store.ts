// Files between machines go through an artifact store, addressed by keys ("jobs/<id>/input"), never
// by paths: in scale-out mode a bot and the GPU worker running its job share no filesystem. Keys
// are built here so every process spells them the same way.

export interface ArtifactStore {
  /** 'local:<dir>' or 'redis' (never the URL: it may hold a password). */
  readonly description: string;
  /** Stores bytes under a key, replacing what was there. Throws ArtifactTooLargeError over the cap. */
  put(key: string, bytes: Buffer): Promise<void>;
  /** The bytes under a key, or undefined when there are none (never stored, expired or deleted). */
  get(key: string): Promise<Buffer | undefined>;
  /** Deletes every artifact of one job. */
  deleteJob(jobId: string): Promise<void>;
  close(): Promise<void>;
}

export class ArtifactTooLargeError extends Error {
  constructor(key: string, bytes: number, capBytes: number) {
    super(
      `The file ${key} is ${(bytes / 1048576).toFixed(1)} MB, over the artifact store's cap of ${(capBytes / 1048576).toFixed(0)} MB ` +
        '(raise ARTIFACT_MAX_MB, or make a shorter video)',
    );
    this.name = 'ArtifactTooLargeError';
  }
}

const safeId = (jobId: string): string => {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(jobId)) throw new Error(`Not a job id: ${JSON.stringify(jobId)}`);
  return jobId;
};

/** Every key of one job starts with this. */
export const jobPrefix = (jobId: string): string => `jobs/${safeId(jobId)}/`;

export const artifactKeys = {
  input: (jobId: string) => `${jobPrefix(jobId)}input`,
  /** The optional end image (the video ends on it). */
  endImage: (jobId: string) => `${jobPrefix(jobId)}end-image`,
  /** The engine's resume checkpoint after the last finished section. */
  checkpoint: (jobId: string) => `${jobPrefix(jobId)}checkpoint`,
  section: (jobId: string, section: number) => `${jobPrefix(jobId)}section-${section}`,
  preview: (jobId: string) => `${jobPrefix(jobId)}preview`,
  final: (jobId: string) => `${jobPrefix(jobId)}final`,
};
