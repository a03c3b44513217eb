// The decoded video so far, kept bounded in the video's length. The reference holds every frame in
// float32, but only the `overlap` frames at the growing end are ever blended again (inverted order
// cross-fades a new, earlier section into the first frames; forward order a new, later one into the
// last frames). Those stay float32 here (the head); every other frame is final as soon as a merge
// makes it so: it is converted to rgb24 once, handed to the caller with takeFinal() (which encodes it
// into a video segment) and leaves memory. Host memory is the head plus one section's frames,
// whatever the video's length.
import { framesToUint8, sliceTime, softAppendBcthw, type Tensor } from '../functions/index.ts';

export class PixelHistory {
  /** rgb24 frames made final by merges and not yet taken, in video order. */
  private pending: Uint8Array = new Uint8Array(0);

  constructor(
    /** Float32 [1,3,Tf,H,W]: the frames at the growing end of the video, Tf ≤ overlap. */
    public float: Tensor,
    /** Frames of the video that are final (taken or pending), i.e. not in the float head. */
    private finalFrames = 0,
    /** True when the video grows at its end (forward sampling): the float frames come last. */
    readonly floatAtEnd = false,
  ) {}

  static empty(floatAtEnd = false): PixelHistory {
    return new PixelHistory({ data: new Float32Array(0), dims: [1, 3, 0, 0, 0] }, 0, floatAtEnd);
  }

  get width(): number { return this.float.dims[4]!; }
  get height(): number { return this.float.dims[3]!; }
  /** Frames in the video so far: the head and every final frame. */
  get frames(): number { return this.float.dims[2]! + this.finalFrames; }
  /** Frames in the float head. */
  get headFrames(): number { return this.float.dims[2]!; }
  /** Final frames already handed out or waiting to be. */
  get finalFrameCount(): number { return this.finalFrames; }

  /**
   * Prepends newly decoded earlier frames: soft_append_bcthw(current, history, overlap) as the
   * original worker calls it, applied to the float frames; `keep` float frames stay afterwards.
   */
  prepend(current: Tensor, overlap: number, keep: number): void {
    if (this.floatAtEnd) throw new Error('This video grows at its end; use append.');
    const merged = this.float.dims[2]! === 0 ? current : softAppendBcthw(current, this.float, Math.min(overlap, this.float.dims[2]!));
    const k = Math.min(keep, merged.dims[2]!);
    // The new final frames come before the ones still pending (they are earlier in the video).
    this.finalize(framesToUint8(sliceTime(merged, k, merged.dims[2]!)), 'before', planeOf(merged));
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
    this.finalize(framesToUint8(sliceTime(merged, 0, t - k)), 'after', planeOf(merged));
    this.float = sliceTime(merged, t - k, t);
  }

  /** The final frames not yet taken (rgb24, video order), which then leave this history. */
  takeFinal(): Uint8Array {
    const out = this.pending;
    this.pending = new Uint8Array(0);
    return out;
  }

  /** The float head as rgb24 (what a preview of the growing end shows). */
  headRgb(): Uint8Array {
    return framesToUint8(this.float);
  }

  /** Every frame at once: the float head joins the final frames (the end of a job). */
  finishAll(): Uint8Array {
    this.finalize(framesToUint8(this.float), this.floatAtEnd ? 'after' : 'before', planeOf(this.float));
    this.float = { data: new Float32Array(0), dims: [1, 3, 0, this.height, this.width] };
    return this.takeFinal();
  }

  private finalize(frames: Uint8Array, where: 'before' | 'after', plane: number): void {
    if (plane === 0 || frames.length === 0) return;
    this.finalFrames += frames.length / plane;
    this.pending = where === 'before' ? joinBytes(frames, this.pending) : joinBytes(this.pending, frames);
  }
}

/** Bytes of one rgb24 frame of a [1,3,T,H,W] tensor. */
function planeOf(t: Tensor): number {
  return t.dims[3]! * t.dims[4]! * 3;
}

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
