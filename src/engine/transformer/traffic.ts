// Host↔device traffic of the transformer: every byte the runtime hands to a session (inputs, and
// streamed weights) or gets back from it (outputs left in host memory). Tensors that stay on the
// device (WebGPU `gpu-buffer` outputs fed to the next session) cost nothing. On the CPU provider
// nothing actually moves, but the count is the same one a GPU provider would pay, so this is the
// figure the session layout is judged by until a GPU is lent.
import type { ort } from '../runtime/session.ts';

export interface Traffic {
  /** Bytes copied host → device (inputs, streamed weights). */
  toDevice: number;
  /** Bytes copied device → host (outputs). */
  toHost: number;
  /** Of toDevice: weights streamed from host memory. */
  weights: number;
}

export const noTraffic = (): Traffic => ({ toDevice: 0, toHost: 0, weights: 0 });

export function tensorBytes(t: ort.Tensor): number {
  if (t.location !== 'cpu' && t.location !== 'cpu-pinned') return 0;
  const data = t.data as { byteLength?: number } | string[];
  return Array.isArray(data) ? 0 : (data.byteLength ?? 0);
}

export class TrafficMeter {
  private now = noTraffic();

  input(t: ort.Tensor, weight = false): void {
    const b = tensorBytes(t);
    this.now.toDevice += b;
    if (weight) this.now.weights += b;
  }

  /** Weights uploaded from host memory or disk without a tensor of ours (a session created per call). */
  weightsLoaded(bytes: number): void {
    this.now.toDevice += bytes;
    this.now.weights += bytes;
  }

  output(t: ort.Tensor): void {
    this.now.toHost += tensorBytes(t);
  }

  /** The traffic since the last take(), and a fresh count. */
  take(): Traffic {
    const t = this.now;
    this.now = noTraffic();
    return t;
  }

  peek(): Traffic {
    return { ...this.now };
  }
}

export const formatBytes = (b: number): string =>
  b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${b} B`;
