// The decoded video so far, kept the cheap way: the reference holds every frame in float32, but only
// the `overlap` frames at the growing end are ever blended again (inverted order cross-fades a new,
// earlier section into the first frames; forward order a new, later one into the last frames), so
// those stay float32 and all other frames are already their final rgb24 bytes.
import { framesToUint8, sliceTime, softAppendBcthw, type Tensor } from '../functions/index.ts';

export class PixelHistory {
  constructor(
    /** Float32 [1,3,Tf,H,W]: the frames at the growing end of the video, Tf ≤ overlap. */
    public float: Tensor,
    /** rgb24 frames of the rest of the video, T×H×W×3. */
    public bytes: Uint8Array,
    /** True when the video grows at its end (forward sampling): the float frames come last. */
    readonly floatAtEnd = false,
  ) {}

  static empty(floatAtEnd = false): PixelHistory {
    return new PixelHistory({ data: new Float32Array(0), dims: [1, 3, 0, 0, 0] }, new Uint8Array(0), floatAtEnd);
  }

  get width(): number { return this.float.dims[4]!; }
  get height(): number { return this.float.dims[3]!; }
  get frames(): number {
    const plane = this.width * this.height * 3;
    return this.float.dims[2]! + (plane ? this.bytes.length / plane : 0);
  }

  /**
   * Prepends newly decoded earlier frames: soft_append_bcthw(current, history, overlap) as the
   * original worker calls it, applied to the float frames; `keep` float frames stay afterwards.
   */
  prepend(current: Tensor, overlap: number, keep: number): void {
    if (this.floatAtEnd) throw new Error('This video grows at its end; use append.');
    const merged = this.float.dims[2]! === 0 ? current : softAppendBcthw(current, this.float, Math.min(overlap, this.float.dims[2]!));
    const k = Math.min(keep, merged.dims[2]!);
    const moved = framesToUint8(sliceTime(merged, k, merged.dims[2]!));
    this.bytes = joinBytes(moved, this.bytes);
    this.float = sliceTime(merged, 0, k);
  }

  /**
   * Appends newly decoded later frames: soft_append_bcthw(history, current, overlap) as the F1
   * worker calls it (history first), applied to the float frames; `keep` float frames stay.
   */
  append(current: Tensor, overlap: number, keep: number): void {
    if (!this.floatAtEnd) throw new Error('This video grows at its start; use prepend.');
    const merged = this.float.dims[2]! === 0 ? current : softAppendBcthw(this.float, current, Math.min(overlap, this.float.dims[2]!));
    const t = merged.dims[2]!;
    const k = Math.min(keep, t);
    const moved = framesToUint8(sliceTime(merged, 0, t - k));
    this.bytes = joinBytes(this.bytes, moved);
    this.float = sliceTime(merged, t - k, t);
  }

  /** All frames as rgb24, T×H×W×3 (what the mp4 gets). */
  rgbFrames(): Uint8Array {
    const f = framesToUint8(this.float);
    return this.floatAtEnd ? joinBytes(this.bytes, f) : joinBytes(f, this.bytes);
  }
}

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

