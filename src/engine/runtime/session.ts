// Creates onnxruntime-node sessions on the configured execution provider, and says which one runs.
// Also owns the intra-op thread count: without one, onnxruntime-node runs every kernel on ONE core.
import { availableParallelism } from 'node:os';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
}

export function availableProviders(): Array<{ name: string; bundled: boolean }> {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

export interface SessionOptions {
  provider?: ExecutionProvider;
  /** Intra-op threads; defaults to `intraOpThreads()` (the ORT_THREADS setting or the machine's default). */
  threads?: number;
  /**
   * onnxruntime's CPU memory arena (default on, onnxruntime's default). It keeps every activation
   * buffer it ever grew to: on a mid-size transformer (bench/precision.ts) turning it off held 12 %
   * less RSS in fp32 and 40 % less with int4 weights at the same call time; not made the default
   * because at the real width each activation is > 32 MB, which glibc maps and unmaps per call,
   * and that speed was not measured on a quiet machine.
   */
  cpuMemArena?: boolean;
  /** Session config entries (onnxruntime's `session.*` keys), e.g. { 'session.disable_prepacking': '1' }. */
  config?: Record<string, string>;
  /** For a model passed as bytes: the folder its external weight files are read from. */
  externalDataDir?: string;
  /** Outputs to leave on the device (WebGPU `gpu-buffer` tensors another session can take as inputs). */
  outputsOnDevice?: string[];
  /** Save the optimised model here (to inspect what onnxruntime keeps as weights). */
  optimizedModelFile?: string;
}

/** Nests dotted config keys the way onnxruntime-node's `extra` option flattens them back. */
function extraOptions(opts: SessionOptions): Record<string, unknown> | undefined {
  const entries = { ...(opts.config ?? {}) };
  if (opts.externalDataDir) entries['session.model_external_initializers_file_folder_path'] = opts.externalDataDir;
  if (Object.keys(entries).length === 0) return undefined;
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entries)) {
    const path = key.split('.');
    let node = root;
    for (const k of path.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = value;
  }
  return root;
}

/** Physical cores (distinct physical id/core id pairs in /proc/cpuinfo), else the logical count. */
export function physicalCores(): number {
  const logical = availableParallelism();
  try {
    const pairs = new Set<string>();
    let phys = '0';
    for (const line of readFileSync('/proc/cpuinfo', 'utf8').split('\n')) {
      const [k, v] = line.split(':').map((x) => x?.trim());
      if (k === 'physical id') phys = v ?? '0';
      if (k === 'core id') pairs.add(`${phys}/${v}`);
    }
    return pairs.size > 0 ? Math.min(pairs.size, logical) : logical;
  } catch {
    return logical;
  }
}

/**
 * Default intra-op threads: every physical core on small machines (on 2 cores the second core is
 * worth 2× per transformer call, and the bots and ffmpeg idle while a step runs), one core left for
 * the bots, ffmpeg and the event loop from 4 cores up.
 */
export function defaultIntraOpThreads(cores = physicalCores()): number {
  return cores >= 4 ? cores - 1 : Math.max(1, cores);
}

let configuredThreads: number | undefined;

/** Sets the process-wide intra-op thread count (from ORT_THREADS); undefined restores the default. */
export function setIntraOpThreads(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new Error(`Intra-op threads must be a positive integer (got ${n}).`);
  configuredThreads = n;
}

let defaultArena = true;

/** Process-wide default of the CPU memory arena (benchmarks compare both). */
export function setCpuMemArena(on: boolean): void {
  defaultArena = on;
}

/** The thread count sessions are created with. */
export function intraOpThreads(): number {
  return configuredThreads ?? defaultIntraOpThreads();
}

/** Opens a model file (external data is resolved next to it). */
export async function createSession(modelPath: string | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const provider = opts.provider ?? 'cpu';
  if (provider === 'webgpu') ensureRuntimeDir();
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads ?? intraOpThreads(),
    enableCpuMemArena: opts.cpuMemArena ?? defaultArena,
  };
  if (opts.optimizedModelFile) options.optimizedModelFilePath = opts.optimizedModelFile;
  if (opts.outputsOnDevice?.length) {
    options.preferredOutputLocation = Object.fromEntries(opts.outputsOnDevice.map((n) => [n, 'gpu-buffer' as const]));
  }
  const extra = extraOptions(opts);
  if (extra) options.extra = extra;
  try {
    return typeof modelPath === 'string'
      ? await ort.InferenceSession.create(modelPath, options)
      : await ort.InferenceSession.create(modelPath, options);
  } catch (err) {
    if (provider !== 'cpu' && /provider|backend|cuda|webgpu|dawn/i.test(String(err))) {
      throw new ProviderUnavailableError(
        `The ${provider} execution provider could not be loaded (${String((err as Error).message ?? err).split('\n')[0]}). ` +
          (provider === 'cuda'
            ? 'Install it with: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node'
            : 'Use EXECUTION_PROVIDER=cpu, or run on a machine with a WebGPU-capable GPU and driver.'),
      );
    }
    throw err;
  }
}

/**
 * Dawn's Vulkan backend (e.g. Mesa's lavapipe on a CI machine or a headless server) needs
 * XDG_RUNTIME_DIR; services and test runners often have none, so give it a private folder.
 */
function ensureRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  const dir = join(tmpdir(), `recurvid-xdg-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

export { ort };
