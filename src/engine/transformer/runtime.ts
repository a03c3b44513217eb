// Runs the converted packed transformer: embed → blocks → head. The split serves the sampler:
// TeaCache reads `modulated` from embed() before deciding whether to run blocks(). Where the block
// weights live follows a plan made once at load (plan.ts): resident blocks composed into a few large
// sessions (up to one graph for the whole step, used by forward()), blocks beyond the memory budget
// streamed from host memory through one shared graph per block type (FramePack's DynamicSwap
// analogue, without creating sessions per call). Every byte passed to or from a session is counted.
import { dirname, join } from 'node:path';
import { ModelSetError, readManifest } from '../modelset/manifest.ts';
import { composeModels, encodeModel, externalLocation, isExternal, readModel, type ModelProto } from '../onnx/compose.ts';
import { cpuMemArenaDefault, ort, type ExecutionProvider } from '../runtime/session.ts';
import type { createSession } from '../runtime/session.ts';
import { BlockRunner, openSession, type Feeds, type SessionFactory } from './blocks-runtime.ts';
import { parseTransformerConfig, type PackedTransformerConfig } from './config.ts';
import { BLOCK0_MODULATION } from './embed.ts';
import { BUCKET_640, EMBED_FEEDS, layoutBytes, planBlocks, tensorSizes, type BlockPlan, type RunLayout, type StepShapes } from './plan.ts';
import { TrafficMeter, type Traffic } from './traffic.ts';
import { DeviceStep, EMBED_DEVICE_OUTPUTS } from './device-step.ts';
import type { BlockCache } from './block-cache.ts';
import { f16ArrayToFloat32, float32ToF16Array } from '../dtype.ts';
import type { Precision } from '../onnx/weights.ts';
import { isBlockQuant, type QuantSpec } from '../onnx/quant.ts';
import { precisionLabel } from '../modelset/precision.ts';
import { describeCpuMode } from '../runtime/cpu-int8.ts';

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
  /** Intermediates the conformance check compares (only when embed() is asked for them). */
  debug: { context: Tensor; imageTokens: Tensor };
  /** The session outputs themselves, handed to blocks() and head() without re-wrapping. */
  raw: Feeds;
}

export interface PackedTransformerOptions {
  provider?: ExecutionProvider;
  /** Intra-op threads per session. */
  threads?: number;
  /**
   * Bytes of device memory the transformer may use (weights + activation reserve). Blocks beyond it
   * stay in host memory and stream through one shared graph per block type. Undefined: all resident.
   */
  memoryBudgetBytes?: number;
  /** Block files per resident session; default: every resident block in one session. 1 = per block. */
  groupSize?: number;
  /** forward() runs embed + blocks + head as one graph (needs every block resident; TeaCache runs staged). */
  wholeStep?: boolean;
  /** Former low-memory mode, kept for the benchmark: a session created and released per block per call. */
  reloadPerCall?: boolean;
  /** Shorthand for memoryBudgetBytes 0: stream every block. */
  lowMemory?: boolean;
  /** onnxruntime's CPU memory arena; default: on, except for weight-only quantized sets (see factory). */
  cpuMemArena?: boolean;
  /** Which transformer of the set: the original model (default) or FramePack-F1. */
  component?: 'transformer' | 'transformer_f1';
  /** Shapes for the expected-bytes figure of describe() (default: the 640 bucket). */
  expectedShapes?: StepShapes;
  /**
   * MatMul weight prepacking on CPU (default on). Streamed weights cannot be prepacked and MLAS then
   * sums in another order (≤ 1 ulp-level differences); off, resident and streamed agree bit for bit.
   */
  prepack?: boolean;
  /**
   * WebGPU: chain embed → blocks → head through `gpu-buffer` tensors and run TeaCache on the device
   * (runStep()); the host-side embed()/blocks()/head() are then unavailable.
   */
  chainOnDevice?: boolean;
}

interface Files {
  dir: string;
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

/** Bytes of a model's external weights (the sum of their stored lengths). */
function storedWeightBytes(model: ModelProto): number {
  return (model.graph?.initializer ?? []).filter(isExternal).reduce((a, t) => a + externalLocation(t).length, 0);
}
const EMBED_FETCH = ['hidden', 'context', 'temb', 'rope', 'modulated', BLOCK0_MODULATION, 'latent_shape'];

/** What the runtime holds and moves, for the startup log and the bench. */
export interface TransformerDescription {
  provider: ExecutionProvider;
  mode: 'resident' | 'streaming' | 'mixed' | 'reload-per-call';
  blockFiles: number;
  residentBlockFiles: number;
  streamedBlockFiles: number;
  blockSessions: number;
  wholeStep: boolean;
  /** WebGPU: tensors chained on the device (the byte figures are then those of the host API path). */
  chained: boolean;
  residentWeightBytes: number;
  streamedWeightBytes: number;
  budgetFits: boolean;
  /** onnxruntime's CPU memory arena for these sessions (off for block-quantized sets unless asked for). */
  cpuMemArena: boolean;
  /** What the Linears compute in, and whether this CPU has the int8 units an int8-dynamic set wants. */
  compute: string;
  /** Host↔device bytes of one call at `expectedShapes` (default the 640 bucket), computed from the layout. */
  expectedStepBytes: { computed: Traffic; teacacheSkip: Traffic; shapes: StepShapes };
}

export class PackedTransformer {
  private readonly meter = new TrafficMeter();
  private embedSession: Session | undefined;
  private headSession: Session | undefined;
  private runner: BlockRunner | undefined;
  private stepSession: Session | undefined;
  private device: DeviceStep | undefined;
  /** Present when the call is chained on the device: the sampler hands it the whole call and its TeaCache. */
  readonly runStep?: (inputs: TransformerInputs, cache?: BlockCache) => Promise<Tensor>;

  private constructor(
    private readonly files: Files,
    readonly config: PackedTransformerConfig,
    readonly plan: BlockPlan,
    readonly provider: ExecutionProvider,
    private readonly opts: PackedTransformerOptions,
    private readonly embedBytes: number,
    private readonly headBytes: number,
    private readonly fileBytes: number[],
    readonly precision: Precision = 'fp32',
    /** How the Linears are quantized (none: plain MatMul in the compute type). */
    readonly quant: QuantSpec | undefined = undefined,
  ) {
    if (this.chained) {
      this.runStep = async (inputs, cache) => {
        const feeds = this.embedFeeds(inputs, false);
        await this.openStaged();
        return this.device!.run(feeds, { embed: this.embedSession!, head: this.headSession!, blocks: this.runner! }, this.meter, cache);
      };
    }
  }

  /** True when tensors stay on the device between sessions (WebGPU chaining). */
  get chained(): boolean {
    return this.opts.chainOnDevice === true && this.provider === 'webgpu' && !this.opts.reloadPerCall;
  }

  private requireHostApi(): void {
    if (this.chained) throw new Error('This transformer chains its sessions on the device; call runStep() instead of embed()/blocks()/head().');
  }

  /** Reads manifest.json's `transformer` component in `modelSetDir`. */
  static async load(modelSetDir: string, opts: PackedTransformerOptions = {}): Promise<PackedTransformer> {
    const manifest = await readManifest(modelSetDir);
    const name = opts.component ?? 'transformer';
    const comp = manifest.components[name];
    if (!comp) {
      throw new ModelSetError(name === 'transformer_f1'
        ? `The model set at ${modelSetDir} has no F1 transformer; pull it with \`recurvid models pull --f1\` or convert it with \`recurvid convert --framepack-f1 DIR\`.`
        : `The model set at ${modelSetDir} has no transformer component; run \`recurvid convert\`.`);
    }
    const blocks = (comp.extra?.blockFiles as string[] | undefined) ?? [];
    if (!comp.files.embed || !comp.files.head || blocks.length === 0) {
      throw new ModelSetError(`The transformer entry in ${join(modelSetDir, 'manifest.json')} lacks embed/head/block files; re-convert it.`);
    }
    const files: Files = {
      dir: dirname(join(modelSetDir, comp.files.embed)),
      embed: join(modelSetDir, comp.files.embed),
      head: join(modelSetDir, comp.files.head),
      blocks: blocks.map((b) => join(modelSetDir, b)),
    };
    const embedModel = await readModel(files.embed);
    if (!embedModel.graph?.output?.some((o) => o.name === BLOCK0_MODULATION)) {
      throw new ModelSetError(`The transformer in ${modelSetDir} was converted by an older version (embed.onnx has no ${BLOCK0_MODULATION}); re-convert it.`);
    }
    const cfg = parseTransformerConfig(comp.config);
    const provider = opts.provider ?? 'cpu';
    // Weight bytes as stored tensors (what a session holds and a streamed block sends), no file padding.
    const fileBytes = await Promise.all(files.blocks.map(async (b) => storedWeightBytes(await readModel(b))));
    const [embedBytes, headBytes] = [storedWeightBytes(embedModel), storedWeightBytes(await readModel(files.head))];
    const budget = opts.lowMemory || opts.reloadPerCall ? 0 : opts.memoryBudgetBytes;
    const plan = planBlocks({
      fileBytes,
      fixedBytes: embedBytes + headBytes,
      ...(budget !== undefined ? { budgetBytes: budget, activationBytes: activationReserve(cfg, opts.expectedShapes ?? BUCKET_640) } : {}),
      ...(opts.groupSize ? { groupSize: opts.groupSize } : {}),
    });
    const quant = comp.quant ?? undefined;
    if (quant && !isBlockQuant(quant) && provider !== 'cpu') {
      throw new ModelSetError(`The transformer in ${modelSetDir} is int8-dynamic, the CPU fast mode (onnxruntime has no ${provider} kernel for DynamicQuantizeMatMul); convert one with --preset ${provider === 'webgpu' ? 'gpu' : 'reference'} for ${provider}.`);
    }
    const t = new PackedTransformer(files, cfg, plan, provider, opts, embedBytes, headBytes, fileBytes, comp.precision ?? 'fp32', quant);
    try {
      if (opts.wholeStep && plan.streamed.length === 0 && !opts.reloadPerCall) await t.openWholeStep();
      else await t.openStaged();
    } catch (err) {
      await t.close();
      throw err;
    }
    return t;
  }

  private get factory(): SessionFactory {
    return {
      provider: this.provider,
      ...(this.opts.threads ? { threads: this.opts.threads } : {}),
      ...(this.opts.prepack === false ? { prepack: false } : {}),
      ...(this.chained ? { chain: true } : {}),
      // A block-quantized set was chosen to save memory: the CPU arena keeps activation blocks it never
      // returns, which (measured, bench precision) costs int4 sets 38 % of fp32's RSS instead of 26 %.
      // The int8-dynamic set was chosen for speed and keeps the arena, as fp32 does.
      ...(this.opts.cpuMemArena !== undefined ? { cpuMemArena: this.opts.cpuMemArena } : this.quant && isBlockQuant(this.quant) ? { cpuMemArena: false } : {}),
    };
  }

  private session(p: string | Uint8Array, weightDir?: string): Promise<Session> {
    return openSession(this.factory, p, weightDir);
  }

  private async openStaged(): Promise<void> {
    if (this.runner) return;
    await this.closeWholeStep();
    this.embedSession = await openSession(this.factory, this.files.embed, undefined, EMBED_DEVICE_OUTPUTS);
    this.headSession = await this.session(this.files.head);
    if (this.chained) this.device = await DeviceStep.open(this.factory);
    this.runner = await BlockRunner.open(this.files.blocks, this.plan, this.factory, {
      reloadPerCall: this.opts.reloadPerCall === true,
      fileBytes: this.fileBytes,
    });
  }

  private async closeStaged(): Promise<void> {
    await this.runner?.close();
    await this.device?.close();
    this.device = undefined;
    await this.embedSession?.release();
    await this.headSession?.release();
    this.runner = this.embedSession = this.headSession = undefined;
  }

  /** One graph for embed + every block + head: the fewest host round trips when TeaCache is off. */
  private async openWholeStep(): Promise<void> {
    if (this.stepSession) return;
    await this.closeStaged();
    const embed = await readModel(this.files.embed);
    const blocks = await Promise.all(this.files.blocks.map(readModel));
    const head = await readModel(this.files.head);
    const fromEmbed = { temb: 'e/temb', rope: 'e/rope', [BLOCK0_MODULATION]: `e/${BLOCK0_MODULATION}` };
    const parts = [
      { model: embed, prefix: 'e/' },
      ...blocks.map((model, j) => ({
        model,
        prefix: `b${j}/`,
        wire: { ...fromEmbed, hidden: j === 0 ? 'e/hidden' : `b${j - 1}/hidden_out`, context: j === 0 ? 'e/context' : `b${j - 1}/context_out` },
      })),
      { model: head, prefix: 'h/', wire: { hidden: `b${blocks.length - 1}/hidden_out`, temb: 'e/temb', latent_shape: 'e/latent_shape' } },
    ];
    const c = composeModels(parts, [{ from: 'h/sample', as: 'sample' }], 'framepack_transformer_step');
    this.stepSession = await this.session(encodeModel(c.model), this.files.dir);
  }

  private async closeWholeStep(): Promise<void> {
    await this.stepSession?.release();
    this.stepSession = undefined;
  }

  get blockFileCount(): number {
    return this.files.blocks.length;
  }

  /** Host↔device traffic since the last call of takeTraffic(). */
  takeTraffic(): Traffic {
    return this.meter.take();
  }

  private embedFeeds(x: TransformerInputs, count = true): Feeds {
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
    const feeds: Feeds = {
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
    };
    if (count) for (const t of Object.values(feeds)) this.meter.input(t);
    return feeds;
  }

  /** Embeds one call's inputs; `withDebug` also fetches the conformance intermediates. */
  async embed(x: TransformerInputs, withDebug = false): Promise<EmbedOutput> {
    this.requireHostApi();
    const feeds = this.embedFeeds(x);
    await this.openStaged();
    const fetch = withDebug ? [...EMBED_FETCH, 'dbg_context', 'dbg_image_tokens'] : EMBED_FETCH;
    const out = await this.embedSession!.run(feeds, fetch);
    for (const n of fetch) this.meter.output(out[n]!);
    const grid = Array.from(out.latent_shape!.data as BigInt64Array, Number) as [number, number, number];
    const none: Tensor = { data: new Float32Array(0), dims: [0] };
    return {
      hidden: fromOrt(out.hidden!),
      context: fromOrt(out.context!),
      temb: fromOrt(out.temb!),
      rope: fromOrt(out.rope!),
      modulated: fromOrt(out.modulated!),
      latentShape: grid,
      noisyTokens: grid[0] * grid[1] * grid[2],
      debug: withDebug ? { context: fromOrt(out.dbg_context!), imageTokens: fromOrt(out.dbg_image_tokens!) } : { context: none, imageTokens: none },
      raw: out as Feeds,
    };
  }

  /** Image-token hidden states after every block (the tensor TeaCache's residual is taken on). */
  async blocks(e: EmbedOutput): Promise<Tensor> {
    this.requireHostApi();
    await this.openStaged();
    const { hidden } = await this.runner!.run(e.raw, this.meter);
    return fromOrt(hidden);
  }

  async head(e: EmbedOutput, hiddenAfterBlocks: Tensor): Promise<Tensor> {
    this.requireHostApi();
    await this.openStaged();
    const feeds: Feeds = { hidden: computeTensor(hiddenAfterBlocks, this.precision), temb: e.raw.temb!, latent_shape: e.raw.latent_shape! };
    for (const t of Object.values(feeds)) this.meter.input(t);
    const out = await this.headSession!.run(feeds);
    this.meter.output(out.sample!);
    return fromOrt(out.sample!);
  }

  /** One whole call; with `wholeStep` a single session run (only the latents in, the velocity out). */
  async forward(inputs: TransformerInputs): Promise<Tensor> {
    if (this.runStep) return this.runStep(inputs);
    if (this.opts.wholeStep && this.plan.streamed.length === 0 && !this.opts.reloadPerCall) {
      const feeds = this.embedFeeds(inputs);
      await this.openWholeStep();
      const out = await this.stepSession!.run(feeds);
      this.meter.output(out.sample!);
      return fromOrt(out.sample!);
    }
    const e = await this.embed(inputs);
    return this.head(e, await this.blocks(e));
  }

  /** True when forward() is cheaper than embed → blocks → head (the sampler uses it without TeaCache). */
  get prefersForward(): boolean {
    return this.opts.wholeStep === true && this.plan.streamed.length === 0 && !this.opts.reloadPerCall;
  }

  /** The session runs of one call in the current layout (teacacheSkip: blocks not run). */
  layout(opts: { teacacheSkip?: boolean; forward?: boolean } = {}): RunLayout[] {
    return callLayout(
      { plan: this.plan, fileBytes: this.fileBytes, reloadPerCall: this.opts.reloadPerCall === true, wholeStep: this.prefersForward, numLayers: this.config.numLayers },
      opts,
    );
  }

  describe(): TransformerDescription {
    const shapes = this.opts.expectedShapes ?? BUCKET_640;
    const sizes = tensorSizes(this.config, shapes, this.precision === 'fp16' ? 2 : 4);
    const p = this.plan;
    return {
      provider: this.provider,
      mode: this.opts.reloadPerCall ? 'reload-per-call' : p.streamed.length === 0 ? 'resident' : p.groups.length === 0 ? 'streaming' : 'mixed',
      blockFiles: this.files.blocks.length,
      residentBlockFiles: p.groups.reduce((a, g) => a + g.length, 0),
      streamedBlockFiles: p.streamed.length,
      blockSessions: this.runner?.sessionCount ?? 0,
      wholeStep: this.stepSession !== undefined,
      chained: this.chained,
      residentWeightBytes: p.residentBytes + this.embedBytes + this.headBytes,
      streamedWeightBytes: p.streamedBytes,
      budgetFits: p.fits,
      cpuMemArena: this.factory.cpuMemArena ?? cpuMemArenaDefault(),
      compute: `${precisionLabel(this.precision, this.quant)}; ${describeCpuMode(this.quant !== undefined && !isBlockQuant(this.quant), this.provider)}`,
      expectedStepBytes: {
        computed: layoutBytes(this.layout({ forward: true }), sizes),
        teacacheSkip: layoutBytes(this.layout({ teacacheSkip: true }), sizes),
        shapes,
      },
    };
  }

  async close(): Promise<void> {
    await this.closeStaged();
    await this.closeWholeStep();
  }
}

export interface LayoutInput {
  plan: BlockPlan;
  fileBytes: number[];
  reloadPerCall: boolean;
  /** forward() runs one whole-step graph. */
  wholeStep: boolean;
  numLayers: number;
}

/** The session runs of one call for a layout, without opening anything (the byte model's input). */
export function callLayout(l: LayoutInput, opts: { teacacheSkip?: boolean; forward?: boolean } = {}): RunLayout[] {
  if (opts.forward && l.wholeStep && !opts.teacacheSkip) return [{ inputs: EMBED_FEEDS, outputs: ['sample'] }];
  const runs: RunLayout[] = [{ inputs: EMBED_FEEDS, outputs: EMBED_FETCH }];
  if (!opts.teacacheSkip) runs.push(...blockLayout(l.plan, l.fileBytes, l.reloadPerCall, (file) => file === 0 && l.numLayers > 0));
  runs.push({ inputs: ['hidden', 'temb', 'latent_shape'], outputs: ['sample'] });
  return runs;
}

/** The blocks' session runs for a plan. */
export function blockLayout(plan: BlockPlan, fileBytes: number[], reloadPerCall: boolean, hasBlock0: (file: number) => boolean): RunLayout[] {
  const units: Array<{ first: number; streamed: boolean; file?: number }> = reloadPerCall
    ? fileBytes.map((_, i) => ({ first: i, streamed: true, file: i }))
    : [...plan.groups.map((g) => ({ first: g[0]!, streamed: false })), ...plan.streamed.map((i) => ({ first: i, streamed: true, file: i }))];
  return units.map((u) => ({
    inputs: ['hidden', 'context', 'temb', 'rope', ...(hasBlock0(u.first) ? [BLOCK0_MODULATION] : [])],
    outputs: ['hidden_out', 'context_out'],
    weightBytes: u.streamed ? fileBytes[u.file!]! : 0,
  }));
}

/**
 * Working memory one block needs at these shapes (float32): the token streams in and out, q/k/v and
 * the attention output, and the MLP's hidden layer — a planning estimate, logged with the plan.
 */
export function activationReserve(cfg: PackedTransformerConfig, s: StepShapes): number {
  const sizes = tensorSizes(cfg, s);
  const tokens = (sizes.hidden! + sizes.context!) / 4 / (cfg.numHeads * cfg.headDim);
  const D = cfg.numHeads * cfg.headDim;
  return tokens * (7 * D + Math.floor(D * cfg.mlpRatio)) * 4;
}
