// Creates onnxruntime-node sessions on the configured execution provider, and says which one runs.
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
  /** Intra-op threads; defaults to onnxruntime's choice. */
  threads?: number;
  /** Session config entries (onnxruntime's `session.*` keys), e.g. { 'session.disable_prepacking': '1' }. */
  config?: Record<string, string>;
  /** For a model passed as bytes: the folder its external weight files are read from. */
  externalDataDir?: string;
  /** Outputs to leave on the device (WebGPU `gpu-buffer` tensors another session can take as inputs). */
  outputsOnDevice?: string[];
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

/** Opens a model file (external data is resolved next to it). */
export async function createSession(modelPath: string | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const provider = opts.provider ?? 'cpu';
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
    graphOptimizationLevel: 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
  };
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

export { ort };
