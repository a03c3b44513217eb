// The conformance modes (`recurvid conformance --precision --quant --provider`) and the relative L2
// error every non-fp32 mode is bounded by.
import type { QuantBlockSize, QuantMode } from '../engine/onnx/quant.ts';
import type { Precision } from '../engine/onnx/weights.ts';
import type { ExecutionProvider } from '../engine/runtime/session.ts';
import type { AttentionKernel } from '../engine/onnx/graph.ts';

export interface ConformanceMode {
  precision?: Precision;
  quant?: QuantMode;
  blockSize?: QuantBlockSize;
  provider?: ExecutionProvider;
  /** Defaults to composed on webgpu (its fused MultiHeadAttention is wrong from 32 keys up), fused elsewhere. */
  attention?: AttentionKernel;
}

export const modeAttention = (m: ConformanceMode): AttentionKernel => m.attention ?? (m.provider === 'webgpu' ? 'composed' : 'fused');

export function describeMode(m: ConformanceMode): string {
  const q = !m.quant || m.quant === 'none' ? '' : m.quant === 'int8-dynamic' ? ' int8 dynamic' : ` ${m.quant}/${m.blockSize ?? 64}`;
  return `${m.precision ?? 'fp32'}${q} on ${m.provider ?? 'cpu'} (${modeAttention(m)} attention)`;
}

/** ‖a − b‖₂ / ‖b‖₂ (0 when both are zero). */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}
