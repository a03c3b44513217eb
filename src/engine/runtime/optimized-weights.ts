// What onnxruntime keeps as weights after its load-time graph optimisation: it saves the optimised
// model, and we sum the initializer bytes per element type. This is how we check that optimisation
// does not turn fp16 or packed int4 weights back into fp32 copies (constant-folding a Cast of a
// weight would), per provider.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { isExternal, externalLocation } from '../onnx/compose.ts';
import { createSession, type ExecutionProvider } from './session.ts';

const { onnx } = onnxProto;
const TYPE_NAMES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 16: 'bfloat16' };

/** Initializer bytes per element type in the model onnxruntime runs after optimising `modelPath`. */
export async function optimizedWeightBytes(modelPath: string, provider: ExecutionProvider): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'recurvid-optimized-'));
  try {
    const out = join(dir, 'optimized.onnx');
    const s = await createSession(modelPath, { provider, optimizedModelFile: out });
    await s.release();
    const model = onnx.ModelProto.decode(await readFile(out));
    const bytes: Record<string, number> = {};
    for (const t of model.graph?.initializer ?? []) {
      const type = TYPE_NAMES[t.dataType ?? 0] ?? `type${t.dataType}`;
      const n = isExternal(t) ? externalLocation(t).length : (t.rawData?.length ?? 0) + 4 * (t.floatData?.length ?? 0) + 8 * (t.int64Data?.length ?? 0) + 4 * (t.int32Data?.length ?? 0);
      bytes[type] = (bytes[type] ?? 0) + n;
    }
    return bytes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
