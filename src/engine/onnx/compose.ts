// Composes ONNX models that were saved separately (embed, block files, head) into one model at load
// time, and turns a model's stored weights into graph inputs. Both work on the model protos only:
// weights stay in the converter's external-data files and are never read or copied here, so the
// same model set serves per-block, grouped, whole-step and streamed sessions.
import onnxProto from 'onnx-proto';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const { onnx } = onnxProto;

export type ModelProto = InstanceType<typeof onnx.ModelProto>;
type TensorProto = onnxProto.onnx.ITensorProto;
type ValueInfo = onnxProto.onnx.IValueInfoProto;
type NodeProto = onnxProto.onnx.INodeProto;

export async function readModel(path: string): Promise<ModelProto> {
  return onnx.ModelProto.decode(await readFile(path));
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export const isExternal = (t: TensorProto): boolean => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;

/** Where an external weight lives: file (relative to the model), byte offset and length. */
export function externalLocation(t: TensorProto): { file: string; offset: number; length: number } {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  return { file: kv.get('location') ?? '', offset: Number(kv.get('offset') ?? 0), length: Number(kv.get('length') ?? 0) };
}

/** One model placed in a composition: its inputs are wired to earlier tensors or become graph inputs. */
export interface Part {
  model: ModelProto;
  /** Prefix for this part's intermediate tensor names (keeps parts apart). */
  prefix: string;
  /** Part input name → global tensor name produced earlier (e.g. the previous part's output). */
  wire?: Record<string, string>;
}

export interface Composition {
  model: ModelProto;
  /** Global tensor name of each part's outputs: outputs[i][name]. */
  outputs: Array<Record<string, string>>;
}

/**
 * Places the parts one after another in a single graph. Graph inputs of a part that are not wired
 * become (shared) graph inputs under their own name. External weights keep their names, so they must
 * be unique across parts (checkpoint keys are); everything else is prefixed per part.
 */
export function composeModels(parts: Part[], outputs: Array<{ from: string; as: string }>, name: string): Composition {
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const inputs: ValueInfo[] = [];
  const inputNames = new Set<string>();
  const initNames = new Set<string>();
  const valueInfos = new Map<string, ValueInfo>();
  const partOutputs: Array<Record<string, string>> = [];
  const opsets = new Map<string, number>();

  for (const part of parts) {
    const g = part.model.graph!;
    for (const o of part.model.opsetImport ?? []) {
      const d = o.domain ?? '';
      opsets.set(d, Math.max(opsets.get(d) ?? 0, Number(o.version ?? 0)));
    }
    const rename = new Map<string, string>();
    const initializerNames = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
    for (const inp of g.input ?? []) {
      const n = inp.name ?? '';
      if (initializerNames.has(n)) continue;
      const wired = part.wire?.[n];
      if (wired !== undefined) {
        rename.set(n, wired);
        continue;
      }
      rename.set(n, n);
      if (!inputNames.has(n)) {
        inputNames.add(n);
        inputs.push(inp);
      }
    }
    for (const t of g.initializer ?? []) {
      const n = t.name ?? '';
      const global = isExternal(t) ? n : part.prefix + n;
      if (initNames.has(global)) throw new Error(`composeModels: weight ${global} appears in two parts.`);
      initNames.add(global);
      rename.set(n, global);
      inits.push(onnx.TensorProto.create({ ...t, name: global }));
    }
    const map = (n: string) => {
      if (n === '') return n;
      let r = rename.get(n);
      if (r === undefined) {
        r = part.prefix + n;
        rename.set(n, r);
      }
      return r;
    };
    for (const node of g.node ?? []) {
      nodes.push(
        onnx.NodeProto.create({
          ...node,
          name: part.prefix + (node.name ?? ''),
          input: (node.input ?? []).map(map),
          output: (node.output ?? []).map(map),
        }),
      );
    }
    const outs: Record<string, string> = {};
    for (const o of g.output ?? []) {
      const global = map(o.name ?? '');
      outs[o.name ?? ''] = global;
      valueInfos.set(global, onnx.ValueInfoProto.create({ ...o, name: global }));
    }
    partOutputs.push(outs);
  }

  const graphOutputs: ValueInfo[] = [];
  for (const { from, as } of outputs) {
    const info = valueInfos.get(from);
    if (!info) throw new Error(`composeModels: no part output ${from}.`);
    if (from !== as) nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [from], output: [as], name: `out_${as}` }));
    graphOutputs.push(onnx.ValueInfoProto.create({ ...info, name: as }));
  }
  const first = parts[0]!.model;
  const model = onnx.ModelProto.create({
    irVersion: first.irVersion,
    producerName: 'recurvid-compose',
    producerVersion: '1',
    opsetImport: [...opsets].map(([domain, version]) => ({ domain, version })),
    graph: onnx.GraphProto.create({ name, node: nodes, input: inputs, output: graphOutputs, initializer: inits }),
  });
  return { model, outputs: partOutputs };
}

export interface WeightSlot {
  /** Graph input name in the weights-as-inputs model. */
  input: string;
  /** The stored weight it replaces (name in the source model, and where its bytes are). */
  weight: string;
  type: number;
  dims: number[];
  file: string;
  offset: number;
  length: number;
}

/**
 * Rewrites a model so that every external weight becomes a graph input `w0, w1, …` (in stored order)
 * and every other tensor gets a positional name. Models that differ only by their weights (block 3
 * and block 17 of the same type) then encode to the same bytes: `key` identifies the template, and
 * one session of it can run any of them with their weights fed as inputs.
 */
export function weightsAsInputs(model: ModelProto): { model: ModelProto; slots: WeightSlot[]; key: string } {
  const g = model.graph!;
  const rename = new Map<string, string>();
  const slots: WeightSlot[] = [];
  const weightInputs: ValueInfo[] = [];
  const inits: TensorProto[] = [];
  for (const inp of g.input ?? []) rename.set(inp.name ?? '', inp.name ?? '');
  for (const o of g.output ?? []) rename.set(o.name ?? '', o.name ?? '');
  for (const t of g.initializer ?? []) {
    const n = t.name ?? '';
    if (isExternal(t)) {
      const input = `w${slots.length}`;
      rename.set(n, input);
      const loc = externalLocation(t);
      const dims = (t.dims ?? []).map(Number);
      slots.push({ input, weight: n, type: t.dataType ?? 0, dims, ...loc });
      weightInputs.push(
        onnx.ValueInfoProto.create({
          name: input,
          type: { tensorType: { elemType: t.dataType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
        }),
      );
    } else {
      const c = `c${inits.length}`;
      rename.set(n, c);
      inits.push(onnx.TensorProto.create({ ...t, name: c }));
    }
  }
  let k = 0;
  const map = (n: string) => {
    if (n === '') return n;
    let r = rename.get(n);
    if (r === undefined) {
      r = `t${k++}`;
      rename.set(n, r);
    }
    return r;
  };
  const nodes = (g.node ?? []).map((node, i) =>
    onnx.NodeProto.create({ ...node, name: `n${i}`, input: (node.input ?? []).map(map), output: (node.output ?? []).map(map) }),
  );
  const out = onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      name: 'weights_as_inputs',
      node: nodes,
      input: [...(g.input ?? []).filter((i) => !rename.get(i.name ?? '')?.match(/^[wc]\d+$/)), ...weightInputs],
      output: g.output,
      initializer: inits,
    }),
  });
  const bytes = encodeModel(out);
  return { model: out, slots, key: createHash('sha256').update(bytes).digest('hex') };
}
