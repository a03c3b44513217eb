// Runs the transformer's block files in the layout a BlockPlan chose: resident files composed into a
// few large sessions (one per group of consecutive files), and streamed files run through one shared
// session per block type with their weights — read once into host memory — fed as graph inputs. No
// session is created per call. `reloadPerCall` keeps the former low-memory mode (a session created
// and released per block per call) for the benchmark's comparison only.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { composeModels, encodeModel, readModel, weightsAsInputs, type ModelProto, type Part, type WeightSlot } from '../onnx/compose.ts';
import { createSession, ort, type ExecutionProvider } from '../runtime/session.ts';
import type { BlockPlan } from './plan.ts';
import type { TrafficMeter } from './traffic.ts';

type Session = ort.InferenceSession;
export type Feeds = Record<string, ort.Tensor>;

export interface SessionFactory {
  provider: ExecutionProvider;
  threads?: number;
  /** False: no MatMul weight prepacking, so resident and streamed blocks round identically (tests). */
  prepack?: boolean;
  /** Keep intermediate tensors on the device (WebGPU `gpu-buffer` chaining between sessions). */
  chain?: boolean;
}

/** Opens a model file, or composed model bytes whose weights live in `weightDir`. */
export function openSession(f: SessionFactory, model: string | Uint8Array, weightDir?: string, deviceOutputs?: string[]): Promise<ort.InferenceSession> {
  return createSession(model, {
    ...(f.chain && deviceOutputs ? { outputsOnDevice: deviceOutputs } : {}),
    provider: f.provider,
    ...(f.threads ? { threads: f.threads } : {}),
    config: {
      // Several sessions run one after another: a finished session's pool must not spin on the
      // cores the next one needs (measured on 2 cores: spinning pools made per-block runs ~1.5× slower).
      'session.intra_op.allow_spinning': '0',
      ...(f.prepack === false ? { 'session.disable_prepacking': '1' } : {}),
    },
    ...(weightDir ? { externalDataDir: weightDir } : {}),
  });
}

const BLOCK_OUTPUTS = ['hidden_out', 'context_out'] as const;

/** Composes consecutive block files into one model: hidden/context chained, temb/rope/modulation shared. */
export async function composeBlockGroup(files: string[], name: string): Promise<ModelProto> {
  const models = await Promise.all(files.map(readModel));
  const parts = models.map((model, j): Part => ({
    model,
    prefix: `g${j}/`,
    wire: j === 0 ? {} : { hidden: `g${j - 1}/hidden_out`, context: `g${j - 1}/context_out` },
  }));
  // Block outputs are renamed with the part prefix by composeModels; chain them by those names.
  const c = composeModels(parts, [
    { from: `g${models.length - 1}/hidden_out`, as: 'hidden_out' },
    { from: `g${models.length - 1}/context_out`, as: 'context_out' },
  ], name);
  return c.model;
}

interface StreamedFile {
  template: { session: Session; inputs: readonly string[] };
  weights: Feeds;
  weightBytes: number;
}

type Unit =
  | { kind: 'group'; session: Session; inputs: readonly string[]; files: number[] }
  | { kind: 'streamed'; file: number };

export class BlockRunner {
  private constructor(
    private readonly files: string[],
    private readonly units: Unit[],
    private readonly streamed: Map<number, StreamedFile>,
    private readonly templates: Session[],
    private readonly factory: SessionFactory,
    private readonly reloadPerCall: boolean,
  ) {}

  /** Stored weight bytes per block file (what reloading a block moves). */
  private reloadBytes: number[] = [];

  static async open(files: string[], plan: BlockPlan, factory: SessionFactory, opts: { reloadPerCall?: boolean; fileBytes?: number[] } = {}): Promise<BlockRunner> {
    const session = (p: string | Uint8Array, weightDir?: string) => openSession(factory, p, weightDir, [...BLOCK_OUTPUTS]);
    if (opts.reloadPerCall) {
      const r = new BlockRunner(files, files.map((_, file) => ({ kind: 'streamed', file })), new Map(), [], factory, true);
      r.reloadBytes = opts.fileBytes ?? [];
      return r;
    }
    const units: Unit[] = [];
    const templates = new Map<string, { session: Session; inputs: readonly string[] }>();
    const streamed = new Map<number, StreamedFile>();
    try {
      for (const group of plan.groups) {
        let s: Session;
        if (group.length === 1) {
          s = await session(files[group[0]!]!);
        } else {
          const name = `group_${group[0]}-${group.at(-1)}`;
          s = await session(encodeModel(await composeBlockGroup(group.map((i) => files[i]!), name)), dirname(files[group[0]!]!));
        }
        units.push({ kind: 'group', session: s, inputs: s.inputNames, files: group });
      }
      for (const file of plan.streamed) {
        const t = weightsAsInputs(await readModel(files[file]!));
        let template = templates.get(t.key);
        if (!template) {
          const s = await session(encodeModel(t.model));
          template = { session: s, inputs: s.inputNames.filter((n) => !/^w\d+$/.test(n)) };
          templates.set(t.key, template);
        }
        const { feeds, bytes } = await loadWeights(dirname(files[file]!), t.slots);
        streamed.set(file, { template, weights: feeds, weightBytes: bytes });
        units.push({ kind: 'streamed', file });
      }
    } catch (err) {
      for (const u of units) if (u.kind === 'group') await u.session.release();
      for (const t of templates.values()) await t.session.release();
      throw err;
    }
    return new BlockRunner(files, units, streamed, [...templates.values()].map((t) => t.session), factory, false);
  }

  /** Sessions kept open (groups + shared templates). */
  get sessionCount(): number {
    return this.units.filter((u) => u.kind === 'group').length + this.templates.length;
  }

  /** Bytes of streamed weights held in host memory. */
  get hostWeightBytes(): number {
    let b = 0;
    for (const s of this.streamed.values()) b += s.weightBytes;
    return b;
  }

  async run(state: Feeds, meter: TrafficMeter): Promise<{ hidden: ort.Tensor; context: ort.Tensor }> {
    let hidden = state.hidden!;
    let context = state.context!;
    for (const u of this.units) {
      const base: Feeds = { ...state, hidden, context };
      let out: ort.InferenceSession.ReturnType;
      if (u.kind === 'group') {
        out = await u.session.run(pick(base, u.inputs, meter));
      } else if (this.reloadPerCall) {
        const s = await openSession(this.factory, this.files[u.file]!, undefined, [...BLOCK_OUTPUTS]);
        // A fresh session uploads the block's weights to the device again, every call.
        meter.weightsLoaded(this.reloadBytes[u.file] ?? 0);
        try {
          out = await s.run(pick(base, s.inputNames, meter));
        } finally {
          await s.release();
        }
      } else {
        const f = this.streamed.get(u.file)!;
        const feeds = pick(base, f.template.inputs, meter);
        for (const [k, v] of Object.entries(f.weights)) {
          feeds[k] = v;
          meter.input(v, true);
        }
        out = await f.template.session.run(feeds);
      }
      // On a device chain the previous unit's outputs are consumed: free them (never the caller's inputs).
      if (hidden !== state.hidden && hidden.location === 'gpu-buffer') hidden.dispose();
      if (context !== state.context && context.location === 'gpu-buffer') context.dispose();
      hidden = out.hidden_out!;
      context = out.context_out!;
      meter.output(hidden);
      meter.output(context);
    }
    return { hidden, context };
  }

  async close(): Promise<void> {
    for (const u of this.units) if (u.kind === 'group') await u.session.release();
    for (const t of this.templates) await t.release();
    this.streamed.clear();
  }
}

function pick(all: Feeds, names: readonly string[], meter: TrafficMeter): Feeds {
  const feeds: Feeds = {};
  for (const n of names) {
    const t = all[n];
    if (!t) throw new Error(`Block graph input ${n} has no value.`);
    feeds[n] = t;
    meter.input(t);
  }
  return feeds;
}

/** ONNX TensorProto data types → onnxruntime-node tensor types and their typed arrays. */
const ORT_TYPES: Record<number, { type: ort.Tensor.Type; make: (b: ArrayBuffer, o: number, n: number) => ort.Tensor.DataType; bytes: number }> = {
  1: { type: 'float32', make: (b, o, n) => new Float32Array(b, o, n), bytes: 4 },
  10: { type: 'float16', make: (b, o, n) => new Uint16Array(b, o, n), bytes: 2 },
  2: { type: 'uint8', make: (b, o, n) => new Uint8Array(b, o, n), bytes: 1 },
  3: { type: 'int8', make: (b, o, n) => new Int8Array(b, o, n), bytes: 1 },
  6: { type: 'int32', make: (b, o, n) => new Int32Array(b, o, n), bytes: 4 },
  7: { type: 'int64', make: (b, o, n) => new BigInt64Array(b, o, n), bytes: 8 },
};

/** Reads each weight file once and wraps every slot as a tensor view on it (no per-call copy). */
async function loadWeights(dir: string, slots: WeightSlot[]): Promise<{ feeds: Feeds; bytes: number }> {
  const buffers = new Map<string, Buffer>();
  const feeds: Feeds = {};
  let bytes = 0;
  for (const s of slots) {
    const t = ORT_TYPES[s.type];
    if (!t) throw new Error(`Cannot stream weight ${s.weight}: ONNX data type ${s.type} has no onnxruntime-node tensor type.`);
    let buf = buffers.get(s.file);
    if (!buf) {
      const raw = await readFile(join(dir, basename(s.file)));
      // Typed-array views need an aligned base; large reads are, but make sure.
      buf = raw.byteOffset % 8 === 0 ? raw : Buffer.from(raw);
      buffers.set(s.file, buf);
    }
    bytes += s.length;
    const n = s.dims.reduce((a, b) => a * b, 1);
    if (n * t.bytes !== s.length) throw new Error(`Weight ${s.weight}: ${s.length} bytes stored for ${n} values of ${t.type}.`);
    feeds[s.input] = new ort.Tensor(t.type, t.make(buf.buffer as ArrayBuffer, buf.byteOffset + s.offset, n), s.dims);
  }
  return { feeds, bytes };
}
