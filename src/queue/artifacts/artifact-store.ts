// Files between machines go through an artifact store, addressed by keys ("jobs/<id>/input.png"),
// never by paths: in scale-out mode a bot and the GPU worker running its job share no filesystem.
// Keys are built here so every process spells them the same way. They mirror the single-machine
// layout of a job (`jobs/<id>/input.<ext>`, `jobs/<id>/work/<engine file>`), so the local store maps
// each key onto the very file the engine reads or writes and nothing is copied there.
import { CHECKPOINT_FILE } from '../../engine/pipeline/checkpoint.ts';
import { safeExtension } from '../job-files.ts';

export interface ArtifactStore {
  /** 'local:<dir>' or 'redis' (never the URL: it may hold a password). */
  readonly description: string;
  /** Stores bytes under a key, replacing what was there. Throws ArtifactTooLargeError over the cap. */
  put(key: string, bytes: Buffer): Promise<void>;
  /** The bytes under a key, or undefined when there are none (never stored, expired or deleted). */
  get(key: string): Promise<Buffer | undefined>;
  /**
   * Stores a file under a key. The local store links or renames it into place (no copy of a video;
   * nothing at all when the file already is the key's file); others upload its bytes.
   */
  putFile(key: string, file: string): Promise<void>;
  /**
   * Puts the key's bytes at `file` (nothing to do when it already is the key's file). False when
   * the key holds nothing.
   */
  fetchFile(key: string, file: string): Promise<boolean>;
  /** Where the key's file lives on this machine, for a store that keeps files here; else undefined. */
  localPath(key: string): string | undefined;
  /** Bytes the store holds for one job (0 when none), for the size limit of retention. */
  jobBytes(jobId: string): Promise<number>;
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

const safeFileName = (name: string): string => {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,150}$/.test(name)) throw new Error(`Not a job file name: ${JSON.stringify(name)}`);
  return name;
};

/** Every key of one job starts with this. */
export const jobPrefix = (jobId: string): string => `jobs/${safeId(jobId)}/`;

/** The job's id from one of its keys, or undefined for a key that is not a job key. */
export const jobIdOfKey = (key: string): string | undefined => /^jobs\/([A-Za-z0-9_-]{1,100})\/[^/]/.exec(key)?.[1];

export const artifactKeys = {
  /** The input image; the extension comes from the name the user sent. */
  input: (jobId: string, imageName = 'input.img') => `${jobPrefix(jobId)}input.${safeExtension(imageName)}`,
  /** The optional end image (the video ends on it). */
  endImage: (jobId: string, imageName = 'end.img') => `${jobPrefix(jobId)}end.${safeExtension(imageName)}`,
  /** The engine's work directory, as a key prefix (no trailing slash). */
  workDir: (jobId: string) => `${jobPrefix(jobId)}work`,
  /** A file the engine wrote in its work directory (section videos, the final video, the checkpoint). */
  work: (jobId: string, fileName: string) => `${jobPrefix(jobId)}work/${safeFileName(fileName)}`,
  /** The engine's resume checkpoint after the last finished section. */
  checkpoint: (jobId: string) => artifactKeys.work(jobId, CHECKPOINT_FILE),
  /** Names of the section videos stored so far, oldest first (JSON), for resuming elsewhere. */
  sections: (jobId: string) => `${jobPrefix(jobId)}sections.json`,
  final: (jobId: string) => artifactKeys.work(jobId, 'final.mp4'),
};
