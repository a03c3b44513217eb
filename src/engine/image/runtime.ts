// FramePack's hf_clip_vision_encode on onnxruntime: SiglipImageProcessor preprocessing, then
// SigLIP's last_hidden_state (post_layernorm included) for the start frame.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelSetError, readManifest } from '../modelset/manifest.ts';
import { createSession, ort, type ExecutionProvider } from '../runtime/session.ts';
import { requireComponent } from '../text/runtime.ts';
import type { Tensor } from '../text/tensor.ts';
import { preprocessSiglip, type PreprocessorConfig } from './preprocess.ts';

export type { Tensor } from '../text/tensor.ts';

type Session = Awaited<ReturnType<typeof createSession>>;

export class ImageEncoder {
  private constructor(
    private readonly session: Session,
    readonly preprocessor: PreprocessorConfig,
  ) {}

  static async load(modelSetDir: string, opts: { provider?: ExecutionProvider } = {}): Promise<ImageEncoder> {
    const m = await readManifest(modelSetDir);
    const enc = requireComponent(m.components, 'image_encoder', modelSetDir);
    const fe = requireComponent(m.components, 'feature_extractor', modelSetDir);
    const model = enc.files.model;
    const config = fe.files.config;
    if (!model || !config) throw new ModelSetError(`The image_encoder / feature_extractor entries of ${modelSetDir}/manifest.json lack their files.`);
    const pre = JSON.parse(await readFile(join(modelSetDir, config), 'utf8')) as PreprocessorConfig;
    return new ImageEncoder(await createSession(join(modelSetDir, model), { provider: opts.provider ?? 'cpu' }), pre);
  }

  async encode(rgb: Uint8Array, width: number, height: number): Promise<Tensor> {
    const px = preprocessSiglip(rgb, width, height, this.preprocessor);
    const out = await this.session.run({ pixel_values: new ort.Tensor('float32', px.data, px.dims) });
    const last = out.last_hidden_state!;
    return { data: (last.data as Float32Array).slice(), dims: [...last.dims] };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
