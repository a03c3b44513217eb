// The HunyuanVideo causal-VAE building blocks as ONNX (opset 17, dynamic T/H/W), in the graph's
// compute type (FramePack itself runs this VAE in float16); GroupNorm statistics are an fp32 island.
// Tensors are [B, C, T, H, W] throughout, as in the reference.
import { float, type GraphBuilder } from '../onnx/graph.ts';
import { attention, linear, silu } from '../onnx/ops.ts';
import type { WeightBinder } from '../onnx/weights.ts';

const EPS = 1e-6;
/** Additive bias for masked keys; exp() of it is exactly 0 in float32, like the reference's -inf (float16 graphs use its lowest value). */
const MASKED = -1e30;

/**
 * HunyuanVideoCausalConv3d: replicate-pad (k/2 on H and W, k-1 frames before, none after: causal),
 * then a plain Conv3d. `prefix` is the module path holding `.conv.weight` / `.conv.bias`.
 */
export function causalConv3d(w: WeightBinder, x: string, prefix: string, stride: [number, number, number] = [1, 1, 1]): string {
  const g = w.g;
  const weightName = `${prefix}.conv.weight`;
  const [, , k0, k1, k2] = w.shape(weightName) as [number, number, number, number, number];
  // F.pad order as the reference writes it: W by k0//2, H by k1//2, T by k2-1 before and 0 after
  // (identical to "spatial same, temporal causal" for the cubic kernels every config uses).
  const padW = Math.floor(k0 / 2);
  const padH = Math.floor(k1 / 2);
  const padT = k2 - 1;
  let padded = x;
  if (padW || padH || padT) {
    const pads = g.i64([0, 0, padT, padH, padW, 0, 0, 0, padH, padW]);
    padded = g.op('Pad', [x, pads], { mode: 'edge' }, undefined, `${prefix}.pad`);
  }
  return plainConv3d(w, padded, `${prefix}.conv`, stride);
}

/** nn.Conv3d without padding (quant_conv, post_quant_conv, and the conv inside a causal conv). */
export function plainConv3d(w: WeightBinder, x: string, prefix: string, stride: [number, number, number] = [1, 1, 1]): string {
  const inputs = [x, w.param(`${prefix}.weight`)];
  if (w.has(`${prefix}.bias`)) inputs.push(w.param(`${prefix}.bias`));
  return w.g.op('Conv', inputs, { strides: stride }, undefined, prefix);
}

/**
 * GroupNorm(num_groups, C, eps=1e-6, affine) on [B, C, ...]: InstanceNormalization over a
 * [B, G, -1] view gives the per-group statistics (opset 17 has no GroupNormalization), then the
 * per-channel affine.
 */
export function groupNorm(w: WeightBinder, x: string, prefix: string, groups: number): string {
  const g = w.g;
  const grouped = g.op('Reshape', [g.toFloat32(x), g.i64([0, groups, -1])]);
  const ones = g.f32(new Array(groups).fill(1), [groups]);
  const zeros = g.f32(new Array(groups).fill(0), [groups]);
  const normed = g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: float(EPS) }, undefined, `${prefix}.norm`);
  const back = g.toCompute(g.op('Reshape', [normed, g.op('Shape', [x])]));
  const c = w.shape(`${prefix}.weight`)[0]!;
  const perChannel = g.i64([c, 1, 1, 1]);
  const scale = g.op('Reshape', [w.param(`${prefix}.weight`), perChannel]);
  const bias = g.op('Reshape', [w.param(`${prefix}.bias`), perChannel]);
  return g.op('Add', [g.op('Mul', [back, scale]), bias], {}, undefined, prefix);
}

/** HunyuanVideoResnetBlockCausal3D: norm→silu→conv ×2, plus a 1×1×1 causal-conv shortcut when channels change. */
export function resnetBlock(w: WeightBinder, x: string, prefix: string, groups: number): string {
  const g = w.g;
  let h = silu(g, groupNorm(w, x, `${prefix}.norm1`, groups));
  h = causalConv3d(w, h, `${prefix}.conv1`);
  h = silu(g, groupNorm(w, h, `${prefix}.norm2`, groups));
  h = causalConv3d(w, h, `${prefix}.conv2`);
  const residual = w.has(`${prefix}.conv_shortcut.conv.weight`) ? causalConv3d(w, x, `${prefix}.conv_shortcut`) : x;
  return g.op('Add', [h, residual], {}, undefined, prefix);
}

/**
 * Frame-causal attention (diffusers' prepare_causal_attention_mask: a token attends to every token
 * of its own frame and of earlier frames) without the L×L bias. The reference materialises an
 * additive [L, L] mask for L = T·H·W tokens and with it [L, L] scores: at the 640 bucket, 5 latent
 * frames of 76×80 give L = 30 400 and ≈ 3.7 GB per L×L float32 tensor, three of them alive (bias,
 * scores, probabilities), whatever the VAE's width (measured: a decoder call's peak RSS grows by
 * 3.3–3.4 × L²·4 bytes).
 *
 * Here the query frames are the batch: frame t's queries see every key, and the mask rides on one
 * extra channel, q' = [q, 1] and k' = [k, m], with m = 0 for keys of frames ≤ t and MASKED after,
 * so q'·k' = q·k + m is exactly the reference's biased score. With no bias input, onnxruntime's
 * MultiHeadAttention takes its memory-efficient path (scores in blocks, never L×L). v gets a zero
 * channel so q, k and v share one head size; it is dropped from the output.
 */
function frameCausalAttention(g: GraphBuilder, q: string, k: string, v: string, x: string, channels: number): string {
  const shape = g.op('Shape', [x]);
  const dim = (i: number) => g.op('Gather', [shape, g.i64([i])], { axis: 0 });
  const frames = dim(2); // [1]
  const hw = g.op('Mul', [dim(3), dim(4)]);
  const tokens = g.op('Mul', [frames, hw]);
  const zero = g.i64([0]);
  // [1, L, C] → queries per frame [T, HW, C]; keys and values repeated for every query frame [T, L, C].
  const queries = g.op('Reshape', [q, g.op('Concat', [frames, hw, g.i64([channels])], { axis: 0 })]);
  const perFrame = g.op('Concat', [frames, tokens, g.i64([channels])], { axis: 0 });
  const keys = g.op('Expand', [k, perFrame]);
  const values = g.op('Expand', [v, perFrame]);
  // m[t, l] = 0 where frame(l) ≤ t, MASKED after: [T, L, 1].
  const keyFrame = g.op('Unsqueeze', [g.op('Div', [g.op('Range', [g.i64(0), g.op('Squeeze', [tokens, zero]), g.i64(1)]), hw]), zero]); // [1, L]
  const queryFrame = g.op('Unsqueeze', [g.op('Range', [g.i64(0), g.op('Squeeze', [frames, zero]), g.i64(1)]), g.i64([1])]); // [T, 1]
  const mask = g.op('Where', [g.op('LessOrEqual', [keyFrame, queryFrame]), g.fc(0), g.fc(g.compute === 'float32' ? MASKED : g.lowest)], {}, undefined, 'causal_mask');
  const withChannel = (t: string, extra: string) => g.op('Concat', [t, extra], { axis: 2 });
  const ones = g.op('Expand', [g.fc(1, [1, 1, 1]), g.op('Concat', [frames, hw, g.i64([1])], { axis: 0 })]);
  const zeros = g.op('Expand', [g.fc(0, [1, 1, 1]), g.op('Concat', [frames, tokens, g.i64([1])], { axis: 0 })]);
  const out = attention(g, withChannel(queries, ones), withChannel(keys, g.op('Unsqueeze', [mask, g.i64([2])])), withChannel(values, zeros), {
    numHeads: 1, scale: 1 / Math.sqrt(channels),
  });
  // [T, HW, C+1] → [1, L, C]
  const dropped = g.op('Slice', [out, g.i64([0]), g.i64([channels]), g.i64([2])]);
  return g.op('Reshape', [dropped, g.i64([1, -1, channels])]);
}

/**
 * The mid-block Attention (single head of width C, GroupNorm in front, residual) over all T·H·W
 * positions, frame-causal. GroupNorm over the 5-D tensor equals the reference's GroupNorm over the
 * flattened [B, C, L] view.
 */
export function midAttention(w: WeightBinder, x: string, prefix: string, groups: number): string {
  const g = w.g;
  const channels = w.shape(`${prefix}.to_q.weight`)[0]!;
  const toTokens = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.i64([0, 0, -1])])], { perm: [0, 2, 1] });
  const residual = toTokens(x);
  const normed = toTokens(groupNorm(w, x, `${prefix}.group_norm`, groups));
  const q = linear(w, normed, `${prefix}.to_q`);
  const k = linear(w, normed, `${prefix}.to_k`);
  const v = linear(w, normed, `${prefix}.to_v`);
  const attn = frameCausalAttention(g, q, k, v, x, channels);
  const out = g.op('Add', [linear(w, attn, `${prefix}.to_out.0`), residual]);
  return g.op('Reshape', [g.op('Transpose', [out], { perm: [0, 2, 1] }), g.op('Shape', [x])], {}, undefined, prefix);
}

/** HunyuanVideoMidBlock3D: resnet, then (attention, resnet) × 1. */
export function midBlock(w: WeightBinder, x: string, prefix: string, groups: number, addAttention: boolean): string {
  let h = resnetBlock(w, x, `${prefix}.resnets.0`, groups);
  if (addAttention) h = midAttention(w, h, `${prefix}.attentions.0`, groups);
  return resnetBlock(w, h, `${prefix}.resnets.1`, groups);
}

/**
 * HunyuanVideoUpsampleCausal3D's nearest interpolation: every frame ×2 in H and W; when `time`,
 * every frame but the first is also repeated twice (1 + 2·(T−1) frames). Built from
 * Expand/Reshape so a 1-frame input never produces an empty tensor.
 */
export function causalUpsample(g: GraphBuilder, x: string, factor: [number, number, number]): string {
  const [ft, fh, fw] = factor;
  let h = x;
  if (fw === 2 || fh === 2) {
    // [B,C,T,H,W] → [B,C,T,H,fh,W,fw] → [B,C,T,H·fh,W·fw]
    const six = g.op('Unsqueeze', [h, g.i64([4, 6])]);
    const expanded = g.op('Expand', [six, g.i64([1, 1, 1, 1, fh, 1, fw])]);
    const target = g.op('Mul', [g.op('Shape', [h]), g.i64([1, 1, 1, fh, fw])]);
    h = g.op('Reshape', [expanded, target]);
  }
  if (ft === 2) {
    // [f0, f0, f1, f1, …] without its first element is [f0, f1, f1, f2, f2, …].
    const six = g.op('Unsqueeze', [h, g.i64([3])]);
    const expanded = g.op('Expand', [six, g.i64([1, 1, 1, 2, 1, 1])]);
    const target = g.op('Mul', [g.op('Shape', [h]), g.i64([1, 1, 2, 1, 1])]);
    const doubled = g.op('Reshape', [expanded, target]);
    h = g.op('Slice', [doubled, g.i64([1]), g.i64([Number.MAX_SAFE_INTEGER]), g.i64([2])]);
  }
  return h;
}
