// The decoded video so far, kept the cheap way: the reference holds every frame in float32, but only
// the first `overlap` frames are ever blended again (the new, earlier section cross-fades into
// them), so those stay float32 and all later frames are already their final rgb24 bytes.
import { framesToUint8, sliceTime, softAppendBcthw, type Tensor } from '../functions/index.ts';

export class PixelHistory {
  constructor(
    /** Float32 [1,3,Th,H,W]: the first frames of the video, Th ≤ overlap. */
    public head: Tensor,
    /** rgb24 frames after the head, T×H×W×3. */
    public tail: Uint8Array,
  ) {}

  static empty(): PixelHistory {
    return new PixelHistory({ data: new Float32Array(0), dims: [1, 3, 0, 0, 0] }, new Uint8Array(0));
  }

  get width(): number { return this.head.dims[4]!; }
  get height(): number { return this.head.dims[3]!; }
  get frames(): number {
    const plane = this.width * this.height * 3;
    return this.head.dims[2]! + (plane ? this.tail.length / plane : 0);
  }

  /**
   * Prepends newly decoded earlier frames: soft_append_bcthw(current, history, overlap) as the worker
   * calls it, applied to the float head; `keep` float frames stay in the head afterwards.
   */
  prepend(current: Tensor, overlap: number, keep: number): void {
    const merged = this.head.dims[2]! === 0 ? current : softAppendBcthw(current, this.head, Math.min(overlap, this.head.dims[2]!));
    const k = Math.min(keep, merged.dims[2]!);
    const moved = framesToUint8(sliceTime(merged, k, merged.dims[2]!));
    const tail = new Uint8Array(moved.length + this.tail.length);
    tail.set(moved);
    tail.set(this.tail, moved.length);
    this.head = sliceTime(merged, 0, k);
    this.tail = tail;
  }

  /** All frames as rgb24, T×H×W×3 (what the mp4 gets). */
  rgbFrames(): Uint8Array {
    const head = framesToUint8(this.head);
    const out = new Uint8Array(head.length + this.tail.length);
    out.set(head);
    out.set(this.tail, head.length);
    return out;
  }
}
