// Runs the converted packed transformer: embed → blocks → head, as three kinds of ONNX sessions.
// The split serves the sampler: TeaCache reads `modulated` from embed() before deciding whether to
// run blocks(), and with lowMemory each block file is opened only while it runs (FramePack's
// DynamicSwap analogue), so peak memory is one block's weights plus activations.
import { join } from 'node:path';
import { ModelSetError, readManifest } from '../modelset/manifest.ts';
import { createSession, ort, type ExecutionProvider } from '../runtime/session.ts';
import { f16ArrayToFloat32, float32ToF16Array } from '../dtype.ts';
import type { Precision } from '../onnx/weights.ts';

import type { Tensor } from '../functions/tensor.ts';

export type { Tensor } from '../functions/tensor.ts';

export interface TransformerInputs {
  hiddenStates: Tensor; // [1,16,T,H,W] noisy latents
  timestep: number; // sigma*1000
  guidance: number; // distilled cfg * 1000
  encoderHiddenStates: Tensor; // [1,Lt,textDim]
  encoderAttentionMask: Uint8Array; // [Lt], 1 = real token
  pooledProjections: Tensor; // [1,pooledDim]
  imageEmbeddings: Tensor; // [1,Ni,imageDim]
  latentIndices: number[];
  cleanLatents: Tensor;
  cleanLatentIndices: number[];
  cleanLatents2x: Tensor;
  cleanLatent2xIndices: number[];
  cleanLatents4x: Tensor;
  cleanLatent4xIndices: number[];
}

export interface EmbedOutput {
  /** Packed image tokens [1, L, D] in the order [4×, 2×, clean 1×, noisy]; blocks() returns the same sequence. */
  hidden: Tensor;
  /** [image projection; refined text] cropped to Ni + mask.sum() tokens, [1, Lc, D]. */
  context: Tensor;
  temb: Tensor;
  /** [1, L, 2·head_dim]: per token [cosT, cosY, cosX, sinT, sinY, sinX]. */
  rope: Tensor;
  /** transformer_blocks[0].norm1(hidden, temb)[0], [1, L, D]: TeaCache's probe. */
  modulated: Tensor;
  /** Post-patch grid [T, H, W] of the noisy latents; the head crops the last T·H·W tokens. */
  latentShape: [number, number, number];
  noisyTokens: number;
  /** Intermediates the conformance check compares: the refined text (all Lt tokens) and the image tokens. */
  debug: { context: Tensor; imageTokens: Tensor };
}

export interface PackedTransformerOptions {
  provider?: ExecutionProvider;
  lowMemory?: boolean;
}

interface Files {
  embed: string;
  head: string;
  blocks: string[];
}

type Session = Awaited<ReturnType<typeof createSession>>;

const f32 = (t: Tensor) => new ort.Tensor('float32', t.data, t.dims);
const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map((x) => BigInt(x))), [v.length]);

/** A graph output as a float32 tensor (fp16 outputs of fp16 sets are widened; exact). */
function fromOrt(t: ort.Tensor): Tensor {
  if (t.type === 'float16') return { data: f16ArrayToFloat32(t.data as Uint16Array), dims: [...t.dims] };
  if (t.type !== 'float32') throw new Error(`Expected a float32 or float16 output, got ${t.type}.`);
  return { data: t.data as Float32Array, dims: [...t.dims] };
}

/** An input of the block/head graphs, which take the set's compute type. */
function computeTensor(t: Tensor, precision: Precision): ort.Tensor {
  return precision === 'fp16' ? new ort.Tensor('float16', float32ToF16Array(t.data), t.dims) : f32(t);
}

function checkRank(name: string, t: Tensor, rank: number): void {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.dims.length !== rank || t.dims[0] !== 1 || n !== t.data.length) {
    throw new Error(`${name} must be a batch-1 rank-${rank} tensor with matching data (dims [${t.dims.join(', ')}], ${t.data.length} values).`);
  }
}

export class PackedTransformer {
  private blockSessions: Array<Session | undefined>;

  private constructor(
    private readonly files: Files,
    private readonly embedSession: Session,
    private readonly headSession: Session,
    readonly provider: ExecutionProvider,
    readonly lowMemory: boolean,
    readonly precision: Precision = 'fp32',
  ) {
    this.blockSessions = new Array<Session | undefined>(files.blocks.length).fill(undefined);
  }

  /** Reads manifest.json's `transformer` component in `modelSetDir`. */
  static async load(modelSetDir: string, opts: PackedTransformerOptions = {}): Promise<PackedTransformer> {
    const manifest = await readManifest(modelSetDir);
    const comp = manifest.components.transformer;
    if (!comp) throw new ModelSetError(`The model set at ${modelSetDir} has no transformer component; run \`recurvid convert\`.`);
    const blocks = (comp.extra?.blockFiles as string[] | undefined) ?? [];
    if (!comp.files.embed || !comp.files.head || blocks.length === 0) {
      throw new ModelSetError(`The transformer entry in ${join(modelSetDir, 'manifest.json')} lacks embed/head/block files; re-convert it.`);
    }
    const files: Files = {
      embed: join(modelSetDir, comp.files.embed),
      head: join(modelSetDir, comp.files.head),
      blocks: blocks.map((b) => join(modelSetDir, b)),
    };
    const provider = opts.provider ?? 'cpu';
    const session = (p: string) => createSession(p, { provider });
    const t = new PackedTransformer(files, await session(files.embed), await session(files.head), provider, opts.lowMemory === true, comp.precision ?? 'fp32');
    if (!t.lowMemory) for (let i = 0; i < blocks.length; i++) t.blockSessions[i] = await session(files.blocks[i]!);
    return t;
  }

  get blockFileCount(): number {
    return this.files.blocks.length;
  }

  async embed(x: TransformerInputs): Promise<EmbedOutput> {
    checkRank('hiddenStates', x.hiddenStates, 5);
    for (const [n, t] of [['cleanLatents', x.cleanLatents], ['cleanLatents2x', x.cleanLatents2x], ['cleanLatents4x', x.cleanLatents4x]] as const) {
      checkRank(n, t, 5);
    }
    checkRank('encoderHiddenStates', x.encoderHiddenStates, 3);
    checkRank('imageEmbeddings', x.imageEmbeddings, 3);
    const lt = x.encoderHiddenStates.dims[1]!;
    if (x.encoderAttentionMask.length !== lt) throw new Error(`encoderAttentionMask has ${x.encoderAttentionMask.length} entries for ${lt} text tokens.`);
    const pairs: Array<[string, number[], Tensor]> = [
      ['latentIndices', x.latentIndices, x.hiddenStates],
      ['cleanLatentIndices', x.cleanLatentIndices, x.cleanLatents],
      ['cleanLatent2xIndices', x.cleanLatent2xIndices, x.cleanLatents2x],
      ['cleanLatent4xIndices', x.cleanLatent4xIndices, x.cleanLatents4x],
    ];
    for (const [n, idx, t] of pairs) if (idx.length !== t.dims[2]) throw new Error(`${n} has ${idx.length} entries for ${t.dims[2]} frames.`);
    if (!x.encoderAttentionMask.some((m) => m !== 0)) throw new Error('encoderAttentionMask has no real token.');

    const out = await this.embedSession.run({
      hidden_states: f32(x.hiddenStates),
      timestep: new ort.Tensor('float32', Float32Array.of(x.timestep), [1]),
      guidance: new ort.Tensor('float32', Float32Array.of(x.guidance), [1]),
      encoder_hidden_states: f32(x.encoderHiddenStates),
      encoder_attention_mask: new ort.Tensor('float32', Float32Array.from(x.encoderAttentionMask, (m) => (m ? 1 : 0)), [1, lt]),
      pooled_projections: f32(x.pooledProjections),
      image_embeddings: f32(x.imageEmbeddings),
      latent_indices: i64(x.latentIndices),
      clean_latents: f32(x.cleanLatents),
      clean_latent_indices: i64(x.cleanLatentIndices),
      clean_latents_2x: f32(x.cleanLatents2x),
      clean_latent_2x_indices: i64(x.cleanLatent2xIndices),
      clean_latents_4x: f32(x.cleanLatents4x),
      clean_latent_4x_indices: i64(x.cleanLatent4xIndices),
    });
    const grid = Array.from(out.latent_shape!.data as BigInt64Array, Number) as [number, number, number];
    return {
      hidden: fromOrt(out.hidden!),
      context: fromOrt(out.context!),
      temb: fromOrt(out.temb!),
      rope: fromOrt(out.rope!),
      modulated: fromOrt(out.modulated!),
      latentShape: grid,
      noisyTokens: grid[0] * grid[1] * grid[2],
      debug: { context: fromOrt(out.dbg_context!), imageTokens: fromOrt(out.dbg_image_tokens!) },
    };
  }

  /** Image-token hidden states after every block (the tensor TeaCache's residual is taken on). */
  async blocks(e: EmbedOutput): Promise<Tensor> {
    const c = (t: Tensor) => computeTensor(t, this.precision);
    let hidden: ort.Tensor = c(e.hidden);
    let context: ort.Tensor = c(e.context);
    const temb = c(e.temb);
    const rope = c(e.rope);
    for (let i = 0; i < this.files.blocks.length; i++) {
      const session = this.blockSessions[i] ?? (await createSession(this.files.blocks[i]!, { provider: this.provider }));
      try {
        const out = await session.run({ hidden, context, temb, rope });
        hidden = out.hidden_out!;
        context = out.context_out!;
      } finally {
        if (this.lowMemory) await session.release();
      }
    }
    return fromOrt(hidden);
  }

  async head(e: EmbedOutput, hiddenAfterBlocks: Tensor): Promise<Tensor> {
    const out = await this.headSession.run({
      hidden: computeTensor(hiddenAfterBlocks, this.precision),
      temb: computeTensor(e.temb, this.precision),
      latent_shape: i64(e.latentShape),
    });
    return fromOrt(out.sample!);
  }

  async forward(inputs: TransformerInputs): Promise<Tensor> {
    const e = await this.embed(inputs);
    return this.head(e, await this.blocks(e));
  }

  async close(): Promise<void> {
    for (const s of this.blockSessions) await s?.release();
    this.blockSessions.fill(undefined);
    await this.embedSession.release();
    await this.headSession.release();
  }
}
