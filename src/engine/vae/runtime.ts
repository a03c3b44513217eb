// HunyuanVideo VAE at run time: FramePack's vae_encode / vae_decode over the converted
// encoder.onnx / decoder.onnx, with diffusers' framewise and (optionally) spatial tiling.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ModelSetError, readManifest } from '../modelset/manifest.ts';
import { createSession, ort, type ExecutionProvider } from '../runtime/session.ts';
import { parseVaeConfig, type VaeConfig } from './config.ts';
import { SeededRandom } from '../seeded-random.ts';
import type { Tensor } from './tensor.ts';
import { tiledDecode, tiledEncode, type Compression, type TilingOptions } from './tiling.ts';

export type { Tensor } from './tensor.ts';
export type { TileConfig, TilingOptions } from './tiling.ts';

export interface VaeLoadOptions {
  provider?: ExecutionProvider;
  threads?: number;
}

export type DecodeOptions = TilingOptions;

export interface EncodeOptions extends TilingOptions {
  /**
   * FramePack's vae_encode returns `latent_dist.sample()` (mean + std·noise from torch's global,
   * unseeded RNG). By default we return the distribution's mean (its mode): deterministic, and for
   * the real VAE std is tiny, so it is what a sample is up to noise. With a seed we draw the sample
   * the way the reference does, with our own seeded normal noise (not torch's stream).
   */
  sampleSeed?: number;
}

/** The encoder's Gaussian over latents (unscaled, as diffusers' latent_dist). */
export interface LatentDistribution {
  mean: Tensor;
  logvar: Tensor;
}

export class HunyuanVae {
  /** Network calls made so far (tiling makes several per encode / decode). */
  readonly calls = { encoder: 0, decoder: 0 };
  /** Milliseconds spent inside onnxruntime since the last takeNetworkMs(): the rest of a decode is ours. */
  private networkMs = 0;

  private constructor(
    readonly config: VaeConfig,
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    readonly provider: ExecutionProvider,
  ) {}

  get scalingFactor(): number {
    return this.config.scalingFactor;
  }

  private get compression(): Compression {
    return { spatial: this.config.spatialCompressionRatio, temporal: this.config.temporalCompressionRatio };
  }

  /** Opens the 'vae' component of a converted model set (manifest.json). */
  static async load(modelSetDir: string, opts: VaeLoadOptions = {}): Promise<HunyuanVae> {
    const manifest = await readManifest(modelSetDir);
    const entry = manifest.components.vae;
    if (!entry) throw new ModelSetError(`The model set at ${modelSetDir} has no vae component; convert it with \`npx recurvid convert\`.`);
    const paths = { encoder: entry.files.encoder, decoder: entry.files.decoder };
    for (const [role, rel] of Object.entries(paths)) {
      if (!rel || !existsSync(join(modelSetDir, rel))) {
        throw new ModelSetError(`The vae ${role} graph ${rel ?? `(${role})`} is missing from ${modelSetDir}; convert the model set again.`);
      }
    }
    const provider = opts.provider ?? 'cpu';
    const session = (rel: string) => createSession(join(modelSetDir, rel), { provider, threads: opts.threads });
    return new HunyuanVae(parseVaeConfig(entry.config), await session(paths.encoder!), await session(paths.decoder!), provider);
  }

  /** The encoder's distribution for pixels [1, 3, T, H, W] in [-1, 1], without scaling. */
  async encodeDistribution(pixels: Tensor, opts: TilingOptions = {}): Promise<LatentDistribution> {
    this.check(pixels, this.config.inChannels, 'pixels');
    const s = this.config.spatialCompressionRatio;
    if (pixels.dims[3]! % s !== 0 || pixels.dims[4]! % s !== 0) {
      throw new Error(`VAE pixels must have height and width divisible by ${s}; got ${pixels.dims[3]}×${pixels.dims[4]}.`);
    }
    const [mean, logvar] = await tiledEncode(pixels, (x) => this.runEncoder(x), this.compression, opts);
    return { mean: mean!, logvar: logvar! };
  }

  /** pixels [1, 3, T, H, W] in [-1, 1] → latents [1, 16, 1+(T−1)/4, H/8, W/8] × scaling_factor (FramePack's vae_encode). */
  async encode(pixels: Tensor, opts: EncodeOptions = {}): Promise<Tensor> {
    const { mean, logvar } = await this.encodeDistribution(pixels, opts);
    const out = new Float32Array(mean.data.length);
    const noise = opts.sampleSeed === undefined ? null : new SeededRandom(opts.sampleSeed);
    for (let i = 0; i < out.length; i++) {
      const z = noise ? mean.data[i]! + Math.exp(0.5 * logvar.data[i]!) * noise.normal() : mean.data[i]!;
      out[i] = z * this.scalingFactor;
    }
    return { data: out, dims: [...mean.dims] };
  }

  /** Scaled latents → pixels [1, 3, 1+(t−1)·4, 8h, 8w], about [-1, 1], unclamped (FramePack's vae_decode). */
  async decode(latents: Tensor, opts: DecodeOptions = {}): Promise<Tensor> {
    this.check(latents, this.config.latentChannels, 'latents');
    const unscaled = new Float32Array(latents.data.length);
    for (let i = 0; i < unscaled.length; i++) unscaled[i] = latents.data[i]! / this.scalingFactor;
    const [sample] = await tiledDecode({ data: unscaled, dims: latents.dims }, (z) => this.runDecoder(z), this.compression, opts);
    return sample!;
  }

  /** The networks' own time since the last call (so a caller can tell its host work from theirs). */
  takeNetworkMs(): number {
    const ms = this.networkMs;
    this.networkMs = 0;
    return ms;
  }

  async close(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }

  private check(t: Tensor, channels: number, what: string): void {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (t.dims.length !== 5 || t.dims[1] !== channels || n !== t.data.length) {
      throw new Error(`VAE ${what} must be [B, ${channels}, T, H, W] with matching data; got [${t.dims.join(', ')}] and ${t.data.length} values.`);
    }
  }

  private async runEncoder(x: Tensor): Promise<Tensor[]> {
    this.calls.encoder++;
    const start = performance.now();
    const out = await this.encoder.run({ pixels: new ort.Tensor('float32', x.data, x.dims) });
    this.networkMs += performance.now() - start;
    return [fromOrt(out.mean!), fromOrt(out.logvar!)];
  }

  private async runDecoder(z: Tensor): Promise<Tensor[]> {
    this.calls.decoder++;
    const start = performance.now();
    const out = await this.decoder.run({ latents: new ort.Tensor('float32', z.data, z.dims) });
    this.networkMs += performance.now() - start;
    return [fromOrt(out.sample!)];
  }
}

function fromOrt(t: ort.Tensor): Tensor {
  return { data: t.data as Float32Array, dims: [...t.dims] };
}
