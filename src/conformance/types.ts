// Conformance: a golden reference set (config + weights + io.safetensors + README) checked against
// our converter + onnxruntime. One handler per kind of set; `recurvid conformance <dir>` picks the
// handler whose `detect` accepts the folder.
import type { ConformanceMode } from './modes.ts';

export interface ConformanceLine {
  /** The compared output, e.g. `out.sample` or `flux[3].sigmas`. */
  name: string;
  maxAbs: number;
  maxRel: number;
  /** Absolute tolerance used (0 for exact comparisons). */
  atol: number;
  pass: boolean;
  /** ‖got − want‖₂ / ‖want‖₂, where the handler measures it (half-precision and quantized modes). */
  relL2?: number;
  note?: string;
}

export interface ConformanceHandler {
  kind: string;
  /** Whether `run` honours precision / quantization / provider modes. */
  modes?: boolean;
  detect(dir: string): Promise<boolean>;
  /** `mode` selects precision / quantization / provider; handlers without such modes ignore it. */
  run(dir: string, mode?: ConformanceMode): Promise<ConformanceLine[]>;
}
