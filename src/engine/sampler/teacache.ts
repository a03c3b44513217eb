// TeaCache (FramePack's HunyuanVideoTransformer3DModelPacked.initialize_teacache / forward): skip
// the 60 transformer blocks on steps where the first block's modulated input has barely changed,
// reusing the last computed residual of the blocks instead.

/** np.poly1d coefficients (highest power first) that map raw rel-L1 to the calibrated distance. */
export const TEACACHE_RESCALE_POLY = [733.226126, -401.131952, 67.5869174, -3.149878, 0.0961237896] as const;
export const TEACACHE_DEFAULT_THRESHOLD = 0.15;

export function teacacheRescale(x: number): number {
  let y = 0;
  for (const c of TEACACHE_RESCALE_POLY) y = y * x + c;
  return y;
}

/** mean|a − b| / mean|b|, summed in double over the whole tensor (one pass). */
export function relativeL1(current: Float32Array, previous: Float32Array): number {
  // Four independent accumulators: the loop is memory-bound at real sizes (50M values per call).
  let n0 = 0, n1 = 0, n2 = 0, n3 = 0, d0 = 0, d1 = 0, d2 = 0, d3 = 0;
  const len = current.length;
  const end4 = len - (len % 4);
  for (let i = 0; i < end4; i += 4) {
    const b0 = previous[i]!, b1 = previous[i + 1]!, b2 = previous[i + 2]!, b3 = previous[i + 3]!;
    n0 += Math.abs(current[i]! - b0); n1 += Math.abs(current[i + 1]! - b1);
    n2 += Math.abs(current[i + 2]! - b2); n3 += Math.abs(current[i + 3]! - b3);
    d0 += Math.abs(b0); d1 += Math.abs(b1); d2 += Math.abs(b2); d3 += Math.abs(b3);
  }
  for (let i = end4; i < len; i++) {
    n0 += Math.abs(current[i]! - previous[i]!);
    d0 += Math.abs(previous[i]!);
  }
  return (n0 + n1 + n2 + n3) / (d0 + d1 + d2 + d3);
}

export interface TeaCacheDecision {
  call: number;
  cntBefore: number;
  computed: boolean;
  /** First and last call of a section always compute. */
  forced: boolean;
  relL1?: number;
  rescaledRelL1?: number;
  accumulatedBeforeDecision?: number;
  accumulatedAfter: number;
}

/** One TeaCache state: the reference keeps exactly this per transformer, reset once per section. */
export class TeaCache {
  private cnt = 0;
  private calls = 0;
  private accumulated = 0;
  private previousModulated: Float32Array | undefined;
  /** Token streams before and after the blocks at the last computed call (the residual, unsubtracted). */
  private lastBefore: Float32Array | undefined;
  private lastAfter: Float32Array | undefined;
  private skipBuffer: Float32Array | undefined;
  readonly trace: TeaCacheDecision[] = [];

  constructor(readonly numSteps: number, readonly threshold = TEACACHE_DEFAULT_THRESHOLD) {}

  /** Decides whether this call must run the blocks. `modulated` is kept for the next comparison. */
  decide(modulated: Float32Array): boolean {
    const previous = this.previousModulated;
    const forced = this.mustCompute(previous !== undefined && this.lastAfter !== undefined);
    const decision = this.record(forced ? undefined : relativeL1(modulated, previous!));
    this.previousModulated = modulated;
    return decision;
  }

  /**
   * The same decision when the tensors live elsewhere (on the GPU): `hasState` says whether a previous
   * probe and a computed residual exist there, `relL1` measures the distance only when it is needed.
   */
  async decideWith(hasState: boolean, relL1: () => Promise<number>): Promise<boolean> {
    return this.record(this.mustCompute(hasState) ? undefined : await relL1());
  }

  /** First and last call of a section, or nothing to compare with / reuse: compute. */
  private mustCompute(hasState: boolean): boolean {
    return this.cnt === 0 || this.cnt === this.numSteps - 1 || !hasState;
  }

  /** Accumulates the rescaled distance (undefined: forced compute) and records the decision. */
  private record(relL1: number | undefined): boolean {
    const cntBefore = this.cnt;
    let decision: TeaCacheDecision;
    if (relL1 === undefined) {
      this.accumulated = 0;
      decision = { call: this.calls, cntBefore, computed: true, forced: true, accumulatedAfter: 0 };
    } else {
      const rescaled = teacacheRescale(relL1);
      this.accumulated += rescaled;
      const before = this.accumulated;
      const computed = this.accumulated >= this.threshold;
      if (computed) this.accumulated = 0;
      decision = {
        call: this.calls, cntBefore, computed, forced: false, relL1, rescaledRelL1: rescaled,
        accumulatedBeforeDecision: before, accumulatedAfter: this.accumulated,
      };
    }
    this.cnt = this.cnt + 1 === this.numSteps ? 0 : this.cnt + 1;
    this.calls++;
    this.trace.push(decision);
    return decision.computed;
  }

  /**
   * Skipped call: hidden after the blocks = hidden before + the last computed residual. The result
   * lives in a buffer owned by the cache and is overwritten by the next skip (the head consumes it
   * at once), which saves a 200 MB allocation per skipped step at real sizes.
   */
  reuse(hiddenBefore: Float32Array): Float32Array {
    const before = this.lastBefore!;
    const after = this.lastAfter!;
    if (this.skipBuffer?.length !== hiddenBefore.length) this.skipBuffer = new Float32Array(hiddenBefore.length);
    const out = this.skipBuffer;
    // fl(hidden + fl(after − before)): the reference's float32 residual, formed only when it is used.
    for (let i = 0; i < out.length; i++) out[i] = hiddenBefore[i]! + Math.fround(after[i]! - before[i]!);
    return out;
  }

  /**
   * Computed call: remember what the blocks added. Only references are kept (the runtime hands out
   * fresh tensors every call), so a computed step costs no pass over the 50M-value token stream.
   */
  remember(hiddenBefore: Float32Array, hiddenAfter: Float32Array): void {
    this.lastBefore = hiddenBefore;
    this.lastAfter = hiddenAfter;
  }
}
