// The engine's public contract. The queue drives an Engine; adapters only ever see these events
// re-emitted by the queue. Nothing here knows about chats; the options a job carries are the one
// option model of src/options.

import type { JobOptions } from '../options/job-options.ts';

export type EngineStage =
  | 'loading'
  | 'encoding_text'
  | 'encoding_image'
  | 'sampling'
  | 'decoding'
  | 'writing'
  | 'done';

export type EngineEvent =
  | { type: 'stage'; stage: EngineStage; detail?: string }
  | {
      type: 'step';
      /** 1-based section number in generation order (FramePack makes the end of the video first). */
      section: number;
      sections: number;
      /** 1-based step number within the section. */
      step: number;
      steps: number;
      /** Milliseconds since the job started (setup included). */
      elapsedMs: number;
      /** Milliseconds this one step took (model call(s) and sampler update); ETAs are built from it. */
      stepMs: number;
      /** Small PNG of the cheap 16→3 latent preview, when previews were asked for. */
      previewPng?: Buffer;
      /**
       * Bytes this step passed between host and execution provider (inputs, streamed weights, outputs
       * left in host memory), counted from the tensors the transformer runtime handed over.
       */
      transferBytes?: { toDevice: number; toHost: number; weights: number };
    }
  | {
      type: 'section';
      section: number;
      sections: number;
      /**
       * A playable mp4 for the chat: the whole video so far, or (past WHOLE_VIDEO_FRAMES, between
       * doublings) only the newest section's frames; `shows` says which.
       */
      videoPath: string;
      shows: 'whole' | 'newest';
      /** Frames and seconds of the whole video so far (not of the clip when it shows the newest). */
      frames: number;
      seconds: number;
      /** The video segment this section finished, which a resume elsewhere needs (stored before the checkpoint). */
      segmentPath?: string;
    }
  | {
      type: 'done';
      videoPath: string;
      frames: number;
      seconds: number;
      /** Milliseconds per stage, e.g. { encoding_text: 120, sampling: 51000, … }. */
      timings: Record<string, number>;
    };

export interface EngineJob {
  /** The input image on disk (any format sharp reads). */
  imagePath: string;
  /** Optional end image on disk (original model only): the video ends on it. */
  endImagePath?: string;
  options: JobOptions;
  /**
   * A directory owned by this job. The engine writes section videos, the final video and its
   * resume checkpoint here. Running again with the same workDir and options resumes after the
   * last finished section.
   */
  workDir: string;
  signal: AbortSignal;
  onEvent: (event: EngineEvent) => void;
}

export interface EngineResult {
  videoPath: string;
  frames: number;
  seconds: number;
  timings: Record<string, number>;
  /** True when the job continued from a checkpoint instead of starting over. */
  resumed: boolean;
  /** Bytes this run wrote (segments, preview videos, checkpoints, the final video). */
  bytesWritten?: number;
  /** The largest checkpoint this run wrote, in bytes. */
  checkpointBytes?: number;
}

/** Thrown (or rejected with) when a job's AbortSignal fires. */
export class EngineCancelledError extends Error {
  constructor() {
    super('The job was cancelled.');
    this.name = 'EngineCancelledError';
  }
}

export interface Engine {
  run(job: EngineJob): Promise<EngineResult>;
  /** A short description for logs and /help, e.g. "FramePack tiny model set on cpu". */
  describe(): string;
  /** Releases sessions and memory. */
  close(): Promise<void>;
}
