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
  /** Milliseconds inside the network since the last call; the rest of a decode is host work. */
  takeNetworkMs?(): number;
}
export type TransformerLike = StagedTransformer<EmbedLike> &
  Closable & {
    /** Host↔device bytes since the last call (the ONNX runtime counts them; fakes may not). */
    takeTraffic?(): { toDevice: number; toHost: number; weights: number };
  };

export interface ComponentLoaders {
  text(): Promise<TextEncoderLike>;
  image(): Promise<ImageEncoderLike>;
  vae(): Promise<VaeLike>;
  transformer(): Promise<TransformerLike>;
  /** FramePack-F1's transformer; absent when the model set has none. */
  transformerF1?(): Promise<TransformerLike>;
}

export type Kind = keyof ComponentLoaders;
type Loaded = { text: TextEncoderLike; image: ImageEncoderLike; vae: VaeLike; transformer: TransformerLike; transformerF1: TransformerLike };

/**
 * Which components stay open after use. Sessions live as long as they are useful: created once per
 * worker and reused across jobs; a component is closed after use only when the memory budget needs
 * its room (FramePack's offloading: text encoders → encode → close; VAE for decoding).
 */
export type KeepPolicy = boolean | ((kind: Kind) => boolean);

/**
 * Opens components on demand. `release` closes a session at once unless the keep policy says the
 * component stays warm, in which case it stays open until `closeAll`.
 */
export class ComponentPool {
  private open = new Map<Kind, Promise<Closable>>();
  /** Milliseconds spent loading, per component (reported under the 'loading' stage). */
  loadMs = 0;

  constructor(private readonly loaders: ComponentLoaders, readonly keep: KeepPolicy = false) {}

  keeps(kind: Kind): boolean {
    return typeof this.keep === 'function' ? this.keep(kind) : this.keep;
  }

  async get<K extends Kind>(kind: K): Promise<Loaded[K]> {
    let p = this.open.get(kind);
    if (!p) {
      // One transformer on the device at a time: a job of the other model frees the one held.
      const rival: Kind | undefined = kind === 'transformer' ? 'transformerF1' : kind === 'transformerF1' ? 'transformer' : undefined;
      if (rival) await this.drop(rival);
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
    if (this.keeps(kind)) return;
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
