// Builds every graph of the packed transformer from a config and a weight provider:
// embed.onnx, blocks_NN.onnx (one per `blocksPerFile` consecutive blocks) and head.onnx.
import type { AttentionKernel, GraphBuilder } from '../onnx/graph.ts';
import type { QuantSpec } from '../onnx/quant.ts';
import { PRECISION_COMPUTE, WeightBinder, type Precision, type StorageDtype, type WeightProvider } from '../onnx/weights.ts';
import { blockLabel, blockOrder, buildBlocksGraph } from './blocks.ts';
import type { PackedTransformerConfig } from './config.ts';
import { buildEmbedGraph } from './embed.ts';
import { buildHeadGraph } from './head.ts';

export interface TransformerGraph {
  /** 'embed', 'head' or 'blocks.N'. */
  role: string;
  /** File name inside the component folder. */
  file: string;
  graph: GraphBuilder;
  binder: WeightBinder;
  /** Block labels in this graph (blocks graphs only), e.g. ['dual_0']. */
  blocks?: string[];
}

export interface BuildOptions {
  /** Weight storage of fp32 graphs (fp16 graphs store fp16). */
  storage?: StorageDtype;
  /** Compute type of every graph (default fp32). */
  precision?: Precision;
  /** Weight-only quantization of every Linear (MatMulNBits). */
  quant?: QuantSpec;
  /** Attention kernel (default fused MultiHeadAttention; composed for WebGPU). */
  attention?: AttentionKernel;
  /** Consecutive blocks per ONNX file (default 1: load the 60 blocks piecewise). */
  blocksPerFile?: number;
}

export function buildTransformerGraphs(cfg: PackedTransformerConfig, weights: WeightProvider, opts: BuildOptions = {}): TransformerGraph[] {
  const storage = opts.storage ?? 'fp32';
  const per = Math.max(1, Math.floor(opts.blocksPerFile ?? 1));
  // Norm scales and biases are tiny: keep them fp32 whatever the storage dtype (fp32 graphs).
  const compute = PRECISION_COMPUTE[opts.precision ?? 'fp32'];
  const bind = (g: GraphBuilder) => new SmallFp32Binder(g, weights, { storage, compute, attention: opts.attention ?? 'fused', ...(opts.quant ? { quant: opts.quant } : {}) });
  const graphs: TransformerGraph[] = [{ role: 'embed', file: 'embed.onnx', ...buildEmbedGraph(cfg, bind) }];
  const order = blockOrder(cfg);
  const width = String(Math.ceil(order.length / per)).length < 2 ? 2 : String(Math.ceil(order.length / per)).length;
  for (let i = 0, n = 0; i < order.length; i += per, n++) {
    const chunk = order.slice(i, i + per);
    graphs.push({
      role: `blocks.${n}`,
      file: `blocks_${String(n).padStart(width, '0')}.onnx`,
      blocks: chunk.map(blockLabel),
      ...buildBlocksGraph(cfg, chunk, bind),
    });
  }
  graphs.push({ role: 'head', file: 'head.onnx', ...buildHeadGraph(cfg, bind) });
  return graphs;
}

/** fp32 graphs: stores 1-D tensors (biases, norm scales) as fp32; matrices and conv kernels in the chosen dtype. */
class SmallFp32Binder extends WeightBinder {
  override param(name: string, opts: Parameters<WeightBinder['param']>[1] = {}): string {
    const small = this.weights.shape(name).length < 2;
    return super.param(name, small && opts.storage === undefined ? { ...opts, storage: 'fp32' } : opts);
  }
}

/** Unique parameter count over all graphs (each weight lives in exactly one graph; this also guards that). */
export function uniqueParameterCount(graphs: TransformerGraph[], shapes: WeightProvider): number {
  const names = new Set<string>();
  for (const g of graphs) for (const n of g.binder.used) names.add(n);
  let total = 0;
  for (const n of names) total += shapes.shape(n).reduce((a, b) => a * b, 1);
  return total;
}
