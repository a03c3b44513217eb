// MagCache (FramePack-Studio's default cache; Ma et al., "Magnitude-aware Cache", arXiv 2506.09045):
// skips the transformer blocks on steps whose calibrated residual-magnitude ratio stays close to 1,
// reusing the last computed residual. Unlike TeaCache the decisions depend only on the ratio table,
// the step count and the three parameters — never on model outputs — so they are exact.
import { roundHalfEven } from '../functions/sections.ts';
import type { BlockCache, BlockStream } from '../transformer/block-cache.ts';
import { MAG_RATIO_RESOLUTIONS, MAG_RATIO_STEPS, MAG_RATIOS, type MagCacheFamily } from './magcache-ratios.ts';

export interface MagCacheParams {
  /** Accumulated error bound, UI 0.01–1.0. */
  threshold: number;
  /** Skips in a row at most, UI 1–5. */
  maxConsecutiveSkips: number;
  /** Share of the first steps that always compute, UI 0.0–1.0. */
  retentionRatio: number;
}

/** FramePack-Studio's UI defaults (the class defaults are the same). */
export const MAGCACHE_DEFAULTS: MagCacheParams = { threshold: 0.1, maxConsecutiveSkips: 2, retentionRatio: 0.25 };
/** A step whose own ratio deviates more than this from 1 always computes. */
const MAX_RATIO_DEVIATION = 0.06;

/** Python's min(keys, key=...) : the first key with the smallest distance wins ties. */
function nearest<T extends number>(keys: readonly T[], target: number): T {
  let best = keys[0]!;
  for (const k of keys) if (Math.abs(k - target) < Math.abs(best - target)) best = k;
  return best;
}

export interface MagRatioSelection {
  resolution: number;
  calibratedSteps: number;
  /** Indices into the calibrated array, one per step. */
  indices: number[];
  ratios: number[];
}

/**
 * The reference's table choice: resolution nearest to (height + width) / 2, step count nearest to
 * numSteps, then nearest-step resampling with numpy's half-to-even rounding (1 step → last entry).
 */
export function selectMagRatios(family: MagCacheFamily, height: number, width: number, numSteps: number): MagRatioSelection {
  const resolution = nearest(MAG_RATIO_RESOLUTIONS, (height + width) / 2);
  const calibratedSteps = nearest(MAG_RATIO_STEPS, numSteps);
  const base = MAG_RATIOS[family][resolution][calibratedSteps];
  let indices: number[];
  if (calibratedSteps === numSteps) indices = base.map((_, i) => i);
  else if (numSteps === 1) indices = [base.length - 1];
  else {
    const scale = (base.length - 1) / (numSteps - 1);
    indices = Array.from({ length: numSteps }, (_, i) => roundHalfEven(i * scale));
  }
  return { resolution, calibratedSteps, indices, ratios: indices.map((i) => base[i]!) };
}

export interface MagCacheDecision {
  call: number;
  stepIndex: number;
  eligible: boolean;
  ratio?: number;
  accumulatedRatio?: number;
  accumulatedErr?: number;
  accumulatedSteps?: number;
  skipped: boolean;
  /** For a skip: the call whose residual is reused. */
  reusedFrom?: number;
}

/**
 * One MagCache state (the reference keeps one per job; it resets itself at step 0 of every section).
 * With cfg > 1 the reference's single step counter advances twice per step (one call per guidance
 * branch); the velocity model keeps one state per branch instead, which equals it for cfg = 1.
 */
export class MagCache implements BlockCache {
  readonly kind = 'magcache' as const;
  /** Decisions come from the calibrated ratio table, not from the tensors. */
  readonly probesModulation = false;
  readonly params: MagCacheParams;
  readonly ratios: number[];
  readonly trace: MagCacheDecision[] = [];
  private stepIndex = 0;
  private calls = 0;
  private accRatio = 1;
  private accErr = 0;
  private accSteps = 0;
  private residualFrom: number | undefined;
  private lastBefore: Float32Array | undefined;
  private lastAfter: Float32Array | undefined;
  private skipBuffer: Float32Array | undefined;

  constructor(readonly opts: { family: MagCacheFamily; height: number; width: number; numSteps: number } & Partial<MagCacheParams>) {
    this.params = {
      threshold: opts.threshold ?? MAGCACHE_DEFAULTS.threshold,
      maxConsecutiveSkips: opts.maxConsecutiveSkips ?? MAGCACHE_DEFAULTS.maxConsecutiveSkips,
      retentionRatio: opts.retentionRatio ?? MAGCACHE_DEFAULTS.retentionRatio,
    };
    this.ratios = selectMagRatios(opts.family, opts.height, opts.width, opts.numSteps).ratios;
  }

  private reset(): void {
    this.accRatio = 1;
    this.accErr = 0;
    this.accSteps = 0;
  }

  /** The decision alone (no tensors needed): exactly the reference's should_skip bookkeeping. */
  decideSkip(): boolean {
    const n = this.opts.numSteps;
    const step = this.stepIndex;
    if (step === 0 || step >= n) {
      this.reset();
      this.lastBefore = undefined;
      this.lastAfter = undefined;
      this.residualFrom = undefined;
    }
    const eligible = step >= Math.trunc(this.params.retentionRatio * n) && step >= 1;
    const d: MagCacheDecision = { call: this.calls, stepIndex: step, eligible, skipped: false };
    if (eligible) {
      const r = this.ratios[step]!;
      this.accRatio *= r;
      this.accErr += Math.abs(1 - this.accRatio);
      this.accSteps += 1;
      Object.assign(d, { ratio: r, accumulatedRatio: this.accRatio, accumulatedErr: this.accErr, accumulatedSteps: this.accSteps });
      if (this.accErr <= this.params.threshold && this.accSteps <= this.params.maxConsecutiveSkips && Math.abs(1 - r) <= MAX_RATIO_DEVIATION) {
        d.skipped = true;
        d.reusedFrom = this.residualFrom!;
      } else {
        this.reset(); // this step's ratio is discarded; the next one starts fresh
      }
    }
    this.stepIndex = step + 1 >= n ? 0 : step + 1;
    this.calls++;
    this.trace.push(d);
    return d.skipped;
  }

  shouldCompute(_stream: BlockStream): boolean {
    return !this.decideSkip();
  }

  /** MagCache decides from its ratio table alone; the device keeps the residual of a computed call. */
  async decideOnDevice(hasState: boolean): Promise<boolean> {
    const skip = this.decideSkip();
    if (skip && !hasState) throw new Error('MagCache skipped a call before any call of the section was computed.');
    if (!skip) this.residualFrom = this.calls - 1;
    return !skip;
  }

  remember(hiddenBefore: Float32Array, hiddenAfter: Float32Array): void {
    // References only: the runtime hands out fresh tensors each call; the residual is formed on use.
    this.lastBefore = hiddenBefore;
    this.lastAfter = hiddenAfter;
    this.residualFrom = this.calls - 1;
  }

  reuse(hiddenBefore: Float32Array): Float32Array {
    const before = this.lastBefore;
    const after = this.lastAfter;
    if (!before || !after) throw new Error('MagCache skipped a call before any call of the section was computed.');
    if (this.skipBuffer?.length !== hiddenBefore.length) this.skipBuffer = new Float32Array(hiddenBefore.length);
    const out = this.skipBuffer;
    // fl(hidden_in + fl(blocks_out − blocks_in)): the reference's float32 previous_residual.
    for (let i = 0; i < out.length; i++) out[i] = hiddenBefore[i]! + Math.fround(after[i]! - before[i]!);
    return out;
  }

  skippedCalls(): number[] {
    return this.trace.filter((d) => d.skipped).map((d) => d.call);
  }

  /** Share of calls skipped so far. */
  skipRate(): number {
    return this.calls === 0 ? 0 : this.skippedCalls().length / this.calls;
  }
}
