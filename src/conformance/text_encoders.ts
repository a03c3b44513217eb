// Conformance for the text and image encoders: golden sets with config.json (model_type llama,
// clip_text_model or siglip_vision_model), model.safetensors and io.safetensors. Every `out*.`
// tensor is compared with our graph run by onnxruntime on the matching `in*.` inputs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, ort } from '../engine/runtime/session.ts';
import { SafetensorsStore } from '../engine/safetensors.ts';
import { buildEncoder, readJson, type EncoderKind as TextEncoderKind } from '../engine/text/build.ts';
import { buildImageEncoder, SIGLIP_KIND } from '../engine/image/encoder.ts';

type EncoderKind = TextEncoderKind | typeof SIGLIP_KIND;
import type { ConformanceHandler, ConformanceLine } from './types.ts';

const ATOL = 1e-4;
const RTOL = 1e-4;

/** Element-wise comparison with |a-b| <= atol + rtol·|b|. */
export function compareTensors(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, atol = ATOL, rtol = RTOL): ConformanceLine {
  if (actual.length !== expected.length) {
    return { name, maxAbs: Infinity, maxRel: Infinity, atol, pass: false, note: `length ${actual.length} != ${expected.length}` };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let pass = true;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    const d = Math.abs(a - b);
    if (!(d <= atol + rtol * Math.abs(b))) pass = false;
    if (!(d <= maxAbs)) maxAbs = d;
    const r = d / Math.max(Math.abs(b), 1e-12);
    if (!(r <= maxRel)) maxRel = r;
  }
  return { name, maxAbs, maxRel, atol, pass };
}

/** `out.hidden_states.0` → case 'out', output 'hidden_states.0'; `out2.x` → case '2'. */
function splitName(key: string): { caseId: string; name: string } {
  const dot = key.indexOf('.');
  return { caseId: key.slice(0, dot).replace(/^(in|out)/, ''), name: key.slice(dot + 1) };
}

/** Golden outputs that are other names for outputs we produce. */
const ALIASES: Record<string, string> = { hidden_states_minus3: 'hidden_state' };

function handler(kind: EncoderKind): ConformanceHandler {
  return {
    kind: `text_encoders/${kind}`,
    async detect(dir) {
      if (!existsSync(join(dir, 'config.json')) || !existsSync(join(dir, 'io.safetensors'))) return false;
      const cfg = await readJson<{ model_type?: string }>(join(dir, 'config.json')).catch(() => ({}) as { model_type?: string });
      return cfg.model_type === kind;
    },
    async run(dir) {
      const opts = { allHiddenStates: true, hiddenStateIndex: -3, withPooler: true };
      const built = kind === SIGLIP_KIND ? await buildImageEncoder(dir, opts) : await buildEncoder(dir, kind, opts);
      const bytes = await built.graph.toBytes();
      await built.store.close();
      const session = await createSession(bytes);
      const io = await SafetensorsStore.open(join(dir, 'io.safetensors'));
      const lines: ConformanceLine[] = [];
      try {
        const cases = new Set(io.keys().filter((k) => k.startsWith('in')).map((k) => splitName(k).caseId));
        for (const caseId of [...cases].sort()) {
          const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
          for (const key of io.keys().filter((k) => k.startsWith(`in${caseId}.`))) {
            const { name } = splitName(key);
            const info = io.info(key);
            feeds[name] = info.dtype === 'F32'
              ? new ort.Tensor('float32', await io.readFloat32(key), info.shape)
              : new ort.Tensor('int64', await io.readInt64(key), info.shape);
          }
          const results = await session.run(feeds);
          for (const key of io.keys().filter((k) => k.startsWith(`out${caseId}.`))) {
            const { name } = splitName(key);
            const produced = results[ALIASES[name] ?? name];
            if (!produced) {
              lines.push({ name: key, maxAbs: Infinity, maxRel: Infinity, atol: ATOL, pass: false, note: 'not produced by the graph' });
              continue;
            }
            if (io.info(key).dtype === 'F32') {
              lines.push(compareTensors(key, produced.data as Float32Array, await io.readFloat32(key)));
            } else {
              const want = Array.from(await io.readInt64(key), Number);
              const got = Array.from(produced.data as BigInt64Array, Number);
              lines.push({ ...compareTensors(key, got, want, 0, 0), note: `got [${got.join(',')}], want [${want.join(',')}]` });
            }
          }
        }
      } finally {
        await io.close();
        await session.release();
      }
      return lines;
    },
  };
}

export const llamaConformance = handler('llama');
export const clipTextConformance = handler('clip_text_model');
export const siglipVisionConformance = handler('siglip_vision_model');
export const textEncoderConformanceHandlers: ConformanceHandler[] = [llamaConformance, clipTextConformance, siglipVisionConformance];
