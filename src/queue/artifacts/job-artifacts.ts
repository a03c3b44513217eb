// The artifacts of one job, one code path for every store: the embedded runner (local store) and
// the scale-out GPU worker (Redis store) both open an EngineWorkspace, which puts the input image,
// the end image and any resume checkpoint (with the video segments it names) where the engine
// reads them, and stores each finished section (its new segment, its progress video, then the list
// of segments, then the checkpoint) and the final video under their keys. Every artifact is one
// section's worth or one checkpoint (O(1) in the video's length), so each fits the store's size cap. With the local store the keys are the engine's
// own files, so all of that is a check and nothing is copied; with Redis the bytes travel.
import { linkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CHECKPOINT_FILE } from '../../engine/pipeline/checkpoint.ts';
import { isPlainSegmentName } from '../../engine/video/segments.ts';
import { artifactKeys, type ArtifactStore } from './artifact-store.ts';

export interface JobFiles {
  jobId: string;
  /** The name the input image came with (its extension is kept). */
  imageName: string;
  /** Set when the job has an end image. */
  endImageName?: string;
}

/** A file the engine needs is not in the store (expired, deleted, never uploaded). */
export class MissingArtifactError extends Error {
  constructor(what: string) {
    super(`The ${what} is no longer in the artifact store (it expired or was deleted).`);
    this.name = 'MissingArtifactError';
  }
}

/** Stores a new job's input image (and end image). */
export async function storeJobInputs(
  artifacts: ArtifactStore,
  files: JobFiles,
  image: Buffer,
  endImage?: Buffer,
): Promise<{ imageKey: string; endImageKey?: string }> {
  const imageKey = artifactKeys.input(files.jobId, files.imageName);
  await artifacts.put(imageKey, image);
  if (endImage === undefined || files.endImageName === undefined) return { imageKey };
  const endImageKey = artifactKeys.endImage(files.jobId, files.endImageName);
  await artifacts.put(endImageKey, endImage);
  return { imageKey, endImageKey };
}

export class EngineWorkspace {
  /** Paths for the engine's run. */
  readonly imagePath: string;
  readonly endImagePath: string | undefined;
  readonly workDir: string;
  /** A checkpoint was found: the engine resumes after its last section. */
  readonly resuming: boolean;
  /** Segment names the stored checkpoint builds on, in generation order. */
  private readonly sectionNames: string[];
  private uploads: Promise<void> = Promise.resolve();
  private uploadError: unknown;
  private snapshots = 0;

  private constructor(
    private readonly artifacts: ArtifactStore,
    private readonly files: JobFiles,
    paths: { imagePath: string; endImagePath: string | undefined; workDir: string; resuming: boolean; sectionNames: string[] },
  ) {
    this.imagePath = paths.imagePath;
    this.endImagePath = paths.endImagePath;
    this.workDir = paths.workDir;
    this.resuming = paths.resuming;
    this.sectionNames = paths.sectionNames;
  }

  /**
   * Makes the job's files ready for the engine. `scratchDir` (the caller's to create and empty)
   * holds them when the store keeps nothing on this machine.
   */
  static async open(artifacts: ArtifactStore, files: JobFiles, scratchDir: string): Promise<EngineWorkspace> {
    const { jobId } = files;
    const here = (key: string, fallback: string) => artifacts.localPath(key) ?? path.join(scratchDir, fallback);
    const workDir = here(artifactKeys.workDir(jobId), 'work');
    const imageKey = artifactKeys.input(jobId, files.imageName);
    const imagePath = here(imageKey, path.posix.basename(imageKey));
    if (!(await artifacts.fetchFile(imageKey, imagePath))) throw new MissingArtifactError('input image');
    let endImagePath: string | undefined;
    if (files.endImageName !== undefined) {
      const endKey = artifactKeys.endImage(jobId, files.endImageName);
      endImagePath = here(endKey, path.posix.basename(endKey));
      if (!(await artifacts.fetchFile(endKey, endImagePath))) throw new MissingArtifactError('end image');
    }
    const resuming = await artifacts.fetchFile(artifactKeys.checkpoint(jobId), path.join(workDir, CHECKPOINT_FILE));
    let sectionNames: string[] = [];
    if (resuming) {
      // The segments the checkpoint builds on, by their names in the work dir. One that is missing
      // here makes the engine start over (it checks each segment's hash), so it is not an error.
      const listed = await artifacts.get(artifactKeys.sections(jobId));
      const names = listed ? (JSON.parse(listed.toString('utf8')) as unknown) : [];
      sectionNames = Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string' && isPlainSegmentName(n)) : [];
      for (const name of sectionNames) await artifacts.fetchFile(artifactKeys.work(jobId, name), path.join(workDir, name));
    }
    return new EngineWorkspace(artifacts, files, { imagePath, endImagePath, workDir, resuming, sectionNames });
  }

  /**
   * Stores a finished section in the background, in order: its new segment, its progress video, the
   * list of segments, then the checkpoint, so a stored checkpoint always finds what it builds on.
   * Returns the progress video's key. `onError` hears the first failure (the job cannot resume
   * elsewhere without it).
   */
  storeSection(section: { videoPath: string; segmentPath?: string | undefined }, onError: (error: unknown) => void): string {
    const { jobId } = this.files;
    const key = artifactKeys.work(jobId, path.basename(section.videoPath));
    const segmentName = section.segmentPath === undefined ? undefined : path.basename(section.segmentPath);
    const checkpointKey = artifactKeys.checkpoint(jobId);
    const checkpointFile = path.join(this.workDir, CHECKPOINT_FILE);
    // The engine goes on to the next section while this uploads, and replaces the checkpoint file
    // (by rename) when that one ends: a hard link taken now keeps this section's checkpoint.
    let snapshot = checkpointFile;
    if (this.artifacts.localPath(checkpointKey) !== checkpointFile) {
      snapshot = `${checkpointFile}.upload-${++this.snapshots}`;
      try {
        rmSync(snapshot, { force: true });
        linkSync(checkpointFile, snapshot);
      } catch {
        snapshot = checkpointFile; // no checkpoint to keep: the upload below reports it
      }
    }
    this.uploads = this.uploads
      .then(async () => {
        if (this.uploadError !== undefined) return;
        if (segmentName !== undefined && section.segmentPath !== undefined) {
          await this.artifacts.putFile(artifactKeys.work(jobId, segmentName), section.segmentPath);
          this.sectionNames.push(segmentName);
        }
        await this.artifacts.putFile(key, section.videoPath);
        await this.artifacts.put(artifactKeys.sections(jobId), Buffer.from(JSON.stringify(this.sectionNames)));
        await this.artifacts.putFile(checkpointKey, snapshot);
      })
      .finally(() => {
        if (snapshot !== checkpointFile) rmSync(snapshot, { force: true });
      })
      .catch((error: unknown) => {
        if (this.uploadError !== undefined) return;
        this.uploadError = error;
        onError(error);
      });
    return key;
  }

  /** Waits for the sections stored so far; throws the first failure. */
  async flush(): Promise<void> {
    await this.uploads;
    if (this.uploadError !== undefined) throw this.uploadError;
  }

  /** Waits for the sections, then stores the final video; its key and where it is on this machine. */
  async storeFinal(videoPath: string): Promise<{ key: string; path: string }> {
    await this.flush();
    const key = artifactKeys.final(this.files.jobId);
    await this.artifacts.putFile(key, videoPath);
    return { key, path: this.artifacts.localPath(key) ?? videoPath };
  }

  /** Waits for background uploads, ignoring their failures (the job already failed). */
  async settle(): Promise<void> {
    await this.uploads.catch(() => undefined);
  }
}
