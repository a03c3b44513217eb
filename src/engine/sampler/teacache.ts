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
  let num = 0;
  let den = 0;
  for (let i = 0; i < current.length; i++) {
    const b = previous[i]!;
    num += Math.abs(current[i]! - b);
    den += Math.abs(b);
  }
  return num / den;
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
  private previousResidual: Float32Array | undefined;
  readonly trace: TeaCacheDecision[] = [];

  constructor(readonly numSteps: number, readonly threshold = TEACACHE_DEFAULT_THRESHOLD) {}

  /** Decides whether this call must run the blocks. `modulated` is kept for the next comparison. */
  decide(modulated: Float32Array): boolean {
    const cntBefore = this.cnt;
    let decision: TeaCacheDecision;
    if (this.cnt === 0 || this.cnt === this.numSteps - 1 || !this.previousModulated || !this.previousResidual) {
      this.accumulated = 0;
      decision = { call: this.calls, cntBefore, computed: true, forced: true, accumulatedAfter: 0 };
    } else {
      const relL1 = relativeL1(modulated, this.previousModulated);
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
    this.previousModulated = modulated;
    this.cnt = this.cnt + 1 === this.numSteps ? 0 : this.cnt + 1;
    this.calls++;
    this.trace.push(decision);
    return decision.computed;
  }

  /** Skipped call: hidden after the blocks = hidden before + the last computed residual. */
  reuse(hiddenBefore: Float32Array): Float32Array {
    const residual = this.previousResidual!;
    const out = new Float32Array(hiddenBefore.length);
    for (let i = 0; i < out.length; i++) out[i] = hiddenBefore[i]! + residual[i]!;
    return out;
  }

  /** Computed call: remember what the blocks added. */
  remember(hiddenBefore: Float32Array, hiddenAfter: Float32Array): void {
    const residual = this.previousResidual?.length === hiddenAfter.length ? this.previousResidual : new Float32Array(hiddenAfter.length);
    for (let i = 0; i < residual.length; i++) residual[i] = hiddenAfter[i]! - hiddenBefore[i]!;
    this.previousResidual = residual;
  }
}
