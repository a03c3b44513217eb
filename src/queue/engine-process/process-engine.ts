// An Engine whose work happens in a separate OS process (child_process.fork): onnxruntime-node's
// InferenceSession.create() and run() block the JavaScript thread for seconds, so they must never
// run on the bots' event loop. Jobs go in as messages; engine events, results and errors come back.
// If the worker process dies mid-job, it is restarted and the job is retried from its last
// section's checkpoint (the workDir is on this machine's disk); a second crash fails the job with a
// sentence that says what happened.
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { EngineCancelledError, type Engine, type EngineEvent, type EngineJob, type EngineResult } from '../../engine/types.ts';
import type { Logger } from '../../log.ts';
import type { EngineSpec, FromWorker, ToWorker } from './protocol.ts';
import { engineEnvironment } from './child-env.ts';
import { RespawnBackoff, type RespawnBackoffOptions } from './respawn-backoff.ts';
import { realTimers, type Timers } from '../../util/timers.ts';

export type { EngineSpec } from './protocol.ts';

export interface ProcessEngineOptions {
  spec: EngineSpec;
  log?: Logger;
  /** Log level inside the worker. Default: the parent logger's level, else 'info'. */
  logLevel?: string;
  /** How often a job is retried after the worker process died under it. Default 1. */
  crashRetries?: number;
  /**
   * Bindings of the engine's log lines while it runs a job. Default: the job id read from a
   * work dir laid out as `…/jobs/<id>/work` (both queues lay it out so).
   */
  jobBindings?: (job: EngineJob) => Record<string, unknown>;
  /** Extra environment for the worker (e.g. a device id). */
  env?: NodeJS.ProcessEnv;
  /**
   * OS scheduling niceness of the engine process (0 = same as this process, 19 = lowest). Default 10:
   * when the CPU is contended the bots' thread wins, so chats stay answered; on a GPU the engine
   * needs little CPU and loses nothing.
   */
  niceness?: number;
  /** Delays between restarts of an engine process that died while idle (doubling, capped). */
  respawn?: RespawnBackoffOptions;
  /** The clock and timers of those restarts (tests move them by hand). */
  timers?: Timers;
}

/** The worker process died while it ran a job. */
export class EngineCrashedError extends Error {
  constructor(readonly exit: string) {
    super(`The engine process stopped unexpectedly (${exit}); it was restarted`);
    this.name = 'EngineCrashedError';
  }
}

interface Pending {
  jobId: string;
  /** Bindings of the engine's log lines while this job runs. */
  bindings: Record<string, unknown>;
  onEvent: (event: EngineEvent) => void;
  resolve: (result: EngineResult) => void;
  reject: (error: Error) => void;
}

interface Worker {
  child: ChildProcess;
  ready: Promise<string>;
  exited: Promise<void>;
}

const workerEntry = fileURLToPath(new URL('./worker-main.ts', import.meta.url));
// tsx turns the worker's TypeScript into JavaScript, whichever directory the bot was started from.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

let nextJobNumber = 1;

export class ProcessEngine implements Engine {
  private readonly log: Logger;
  private worker: Worker | undefined;
  private pending: Pending | undefined;
  private description = 'engine worker (starting)';
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;
  /** How many times the worker process was restarted after dying. */
  restarts = 0;
  private readonly timers: Timers;
  private readonly backoff: RespawnBackoff;
  private respawnTimer: unknown;
  private spawned = 0;

  constructor(private readonly options: ProcessEngineOptions) {
    this.log = options.log ?? pino({ level: 'silent' });
    this.timers = options.timers ?? realTimers;
    this.backoff = new RespawnBackoff(options.respawn, () => this.timers.now());
  }

  /** Starts the worker process and waits until its engine is built. */
  async start(): Promise<void> {
    this.worker = this.spawn();
    this.description = await this.worker.ready;
  }

  /** The worker's OS process id (tests kill it to prove crash handling). */
  get pid(): number | undefined {
    return this.worker?.child.pid;
  }

  describe(): string {
    return this.description;
  }

  run(job: EngineJob): Promise<EngineResult> {
    // One job at a time, as on one GPU; the queue above never sends two anyway.
    const result = this.queue.then(() => this.runWithRetries(job));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.cancelRespawn();
    const worker = this.worker;
    this.worker = undefined;
    if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
    this.send(worker, { type: 'close' });
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), 10_000);
    await worker.exited;
    clearTimeout(timer);
  }

  private async runWithRetries(job: EngineJob): Promise<EngineResult> {
    const retries = this.options.crashRetries ?? 1;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(job);
      } catch (error) {
        if (!(error instanceof EngineCrashedError) || attempt >= retries || job.signal.aborted || this.closing) {
          if (error instanceof EngineCrashedError) {
            throw new Error(`${error.message}, but the job could not be finished after ${attempt + 1} crash${attempt ? 'es' : ''}`);
          }
          throw error;
        }
        this.log.warn({ workDir: job.workDir, exit: error.exit }, 'engine process died mid-job; retrying from the last section checkpoint');
        job.onEvent({ type: 'stage', stage: 'loading', detail: 'the engine process was restarted; resuming from the last finished section' });
      }
    }
  }

  private async runOnce(job: EngineJob): Promise<EngineResult> {
    if (job.signal.aborted) throw new EngineCancelledError();
    if (this.closing) throw new Error('The engine is shutting down.');
    if (!this.worker) {
      // A job is waiting: start now rather than at the end of an idle restart's back-off.
      this.cancelRespawn();
      this.worker = this.spawn();
    }
    const worker = this.worker;
    await worker.ready;
    const jobId = `job-${nextJobNumber++}`;
    return new Promise<EngineResult>((resolve, reject) => {
      const onAbort = () => this.send(worker, { type: 'cancel', jobId });
      const done = () => {
        job.signal.removeEventListener('abort', onAbort);
        this.pending = undefined;
      };
      this.pending = {
        jobId,
        bindings: (this.options.jobBindings ?? defaultJobBindings)(job),
        onEvent: job.onEvent,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      job.signal.addEventListener('abort', onAbort, { once: true });
      this.send(worker, {
        type: 'run', jobId, imagePath: job.imagePath, workDir: job.workDir, options: job.options,
        ...(job.endImagePath !== undefined && { endImagePath: job.endImagePath }),
      });
    });
  }

  private spawn(): Worker {
    if (this.spawned++ > 0) this.restarts += 1;
    const child = fork(workerEntry, [], {
      execArgv: ['--import', tsxLoader],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: engineEnvironment(process.env, this.options.env),
    });
    let readyResolve!: (d: string) => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<string>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    ready.catch(() => undefined); // observed by start()/runOnce(); never an unhandled rejection
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const worker: Worker = { child, ready, exited };
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, this.options.niceness ?? 10);
      } catch (error) {
        this.log.debug({ err: error }, 'could not lower the engine process priority');
      }
    }
    let becameReady = false;

    child.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          becameReady = true;
          this.backoff.started();
          readyResolve(message.description);
          break;
        case 'init-failed':
          readyReject(new Error(`The engine could not start: ${message.message}`));
          break;
        case 'event': {
          const p = this.pending;
          if (p?.jobId === message.jobId) p.onEvent(reviveEvent(message.event));
          break;
        }
        case 'result':
          if (this.pending?.jobId === message.jobId) this.pending.resolve(message.result);
          break;
        case 'error':
          if (this.pending?.jobId === message.jobId) {
            this.pending.reject(message.cancelled ? new EngineCancelledError() : new Error(message.message));
          }
          break;
        case 'log':
          this.relayLog(message.line, child.pid);
          break;
        case 'closed':
          break;
      }
    });
    child.once('exit', (code, signal) => {
      const exit = signal ? `signal ${signal}` : `exit code ${code}`;
      readyReject(new Error(`The engine process exited before it was ready (${exit}).`));
      if (this.worker === worker) this.worker = undefined;
      if (this.closing) return;
      this.log.error({ exit }, 'engine process exited');
      const p = this.pending;
      if (p) p.reject(new EngineCrashedError(exit));
      // Restart ahead of the next job, so it does not pay the model load on its own clock, but after
      // a back-off that doubles while the process keeps dying (a retry of a running job starts at
      // once, in runOnce). A worker that never became ready is not restarted: the next job tries.
      if (!becameReady) return;
      const delayMs = this.backoff.nextDelayMs();
      this.log.warn({ delayMs }, 'restarting the engine process after a back-off');
      this.cancelRespawn();
      this.respawnTimer = this.timers.setTimeout(() => {
        this.respawnTimer = undefined;
        if (this.worker || this.closing) return;
        this.worker = this.spawn();
      }, delayMs);
    });
    child.once('error', (error) => this.log.error({ err: error }, 'engine process error'));
    this.send(worker, { type: 'init', spec: this.options.spec, logLevel: this.options.logLevel ?? this.log.level ?? 'info' });
    return worker;
  }

  private cancelRespawn(): void {
    if (this.respawnTimer === undefined) return;
    this.timers.clearTimeout(this.respawnTimer);
    this.respawnTimer = undefined;
  }

  /** Writes one of the worker's pino lines through this process's logger, at its level. */
  private relayLog(line: string, pid: number | undefined): void {
    const log = this.pending ? this.log.child(this.pending.bindings) : this.log;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      log.info({ engineProcess: pid, output: line.trim() }, 'engine process output');
      return;
    }
    const { level, time: _time, pid: _pid, hostname: _hostname, msg, ...fields } = record;
    const method = (Object.keys(LEVELS) as Array<keyof typeof LEVELS>).find((name) => LEVELS[name] === level) ?? 'info';
    log[method]({ ...fields, engineProcess: pid }, typeof msg === 'string' ? msg : '');
  }

  private send(worker: Worker, message: ToWorker): void {
    if (!worker.child.connected) return;
    worker.child.send(message, (error) => {
      if (error) this.log.warn({ err: error, type: message.type }, 'could not reach the engine process');
    });
  }
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

/** `{ jobId }` from a work dir `…/jobs/<id>/work`, else nothing. */
function defaultJobBindings(job: EngineJob): Record<string, unknown> {
  const jobId = /[\\/]jobs[\\/]([^\\/]+)[\\/]work[\\/]?$/.exec(job.workDir)?.[1];
  return jobId ? { jobId } : {};
}

/** IPC turns Buffers into Uint8Arrays; adapters expect a Buffer for the preview image. */
function reviveEvent(event: EngineEvent): EngineEvent {
  if (event.type === 'step' && event.previewPng && !Buffer.isBuffer(event.previewPng)) {
    const bytes = event.previewPng as Uint8Array;
    return { ...event, previewPng: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }
  return event;
}

/** Starts a worker process for `spec` and waits until its engine is ready. */
export async function startProcessEngine(options: ProcessEngineOptions): Promise<ProcessEngine> {
  const engine = new ProcessEngine(options);
  try {
    await engine.start();
  } catch (error) {
    await engine.close();
    throw error;
  }
  return engine;
}
