// The four networks the pipeline uses, behind small interfaces (the real ONNX runtimes fit them; tests
// and the benchmark can pass fakes), and a pool that decides how long each session lives.
import type { Tensor } from '../functions/index.ts';
import type { EmbedLike, StagedTransformer } from '../sampler/index.ts';

export interface Closable {
  close(): Promise<void>;
}
export interface TextEncoderLike extends Closable {
  encode(prompt: string): Promise<{ llamaVec: Tensor; clipPooled: Tensor; truncated: boolean }>;
}
export interface ImageEncoderLike extends Closable {
  encode(rgb: Uint8Array, width: number, height: number): Promise<Tensor>;
}
export interface VaeLike extends Closable {
  encode(pixels: Tensor): Promise<Tensor>;
  decode(latents: Tensor, opts?: { tiled?: boolean }): Promise<Tensor>;
}
export type TransformerLike = StagedTransformer<EmbedLike> & Closable;

export interface ComponentLoaders {
  text(): Promise<TextEncoderLike>;
  image(): Promise<ImageEncoderLike>;
  vae(): Promise<VaeLike>;
  transformer(): Promise<TransformerLike>;
  /** FramePack-F1's transformer; absent when the model set has none. */
  transformerF1?(): Promise<TransformerLike>;
}

type Kind = keyof ComponentLoaders;
type Loaded = { text: TextEncoderLike; image: ImageEncoderLike; vae: VaeLike; transformer: TransformerLike; transformerF1: TransformerLike };

/**
 * Opens components on demand. `release` closes a session at once (FramePack's low-VRAM behaviour:
 * text encoders → encode → close; transformer for sampling; VAE for decoding) unless the pool keeps
 * sessions warm, in which case they stay open until `closeAll`.
 */
export class ComponentPool {
  private open = new Map<Kind, Promise<Closable>>();
  /** Milliseconds spent loading, per component (reported under the 'loading' stage). */
  loadMs = 0;

  constructor(private readonly loaders: ComponentLoaders, readonly keepWarm = false) {}

  async get<K extends Kind>(kind: K): Promise<Loaded[K]> {
    let p = this.open.get(kind);
    if (!p) {
      const t0 = performance.now();
      const load = this.loaders[kind] as (() => Promise<Closable>) | undefined;
      if (!load) throw new Error(`This model set has no ${kind === 'transformerF1' ? 'F1 transformer' : kind}.`);
      p = load().then((c) => {
        this.loadMs += performance.now() - t0;
        return c;
      });
      this.open.set(kind, p);
      p.catch(() => this.open.delete(kind));
    }
    return (await p) as Loaded[K];
  }

  async release(kind: Kind): Promise<void> {
    if (this.keepWarm) return;
    await this.drop(kind);
  }

  private async drop(kind: Kind): Promise<void> {
    const p = this.open.get(kind);
    if (!p) return;
    this.open.delete(kind);
    await (await p.catch(() => undefined))?.close();
  }

  async closeAll(): Promise<void> {
    for (const kind of [...this.open.keys()]) await this.drop(kind);
  }
}
