// Flow-matching UniPC (FramePack's diffusers_helper/k_diffusion/uni_pc_fm.py, variants bh1/bh2),
// re-derived: the model returns x0 predictions; λ = −log σ; a predictor from up to `order` previous
// predictions, then a corrector using the new one. Scalars follow torch's float32 rounding; the
// elementwise updates run in double and are stored to float32 (differences ~1e-7, far inside 2e-4).
const f = Math.fround;

export type UniPCVariant = 'bh1' | 'bh2';

/** Returns the x0 (denoised) prediction for latent `x` at noise level `sigma` (float32). */
export type Denoiser = (x: Float32Array, sigma: number, stepIndex: number) => Promise<Float32Array>;

export interface UniPCStep {
  /** 0-based step index. */
  i: number;
  /** The latent the model was evaluated on at this step. */
  x: Float32Array;
  /** The x0 prediction of this step. */
  denoised: Float32Array;
}

export interface UniPCOptions {
  noise: Float32Array;
  /** n+1 sigmas, the last 0 (never evaluated). */
  sigmas: Float32Array;
  denoise: Denoiser;
  variant?: UniPCVariant;
  onStep?: (step: UniPCStep) => void | Promise<void>;
  /** Checked before every model call, so a cancel lands within one step. */
  signal?: AbortSignal;
}

/** Solves a small dense system (≤ 3×3) by Gaussian elimination with partial pivoting. */
export function solveSmall(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row.slice(0, n), b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = col + 1; r < n; r++) {
      const k = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c]! -= k * m[col]![c]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let c = r + 1; c < n; c++) s -= m[r]![c]! * x[c]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/** The scalar coefficients of one UniPC update (everything but the elementwise work). */
export interface UniPCCoefficients {
  /** σ_t / σ_prev. */
  ratio: number;
  hPhi1: number;
  bH: number;
  /** r_k for each older prediction, newest first (D1_k = (m_k − m_0)/r_k). */
  rks: number[];
  rhosP: number[];
  rhosC: number[];
}

export function unipcCoefficients(tPrev: readonly number[], t: number, order: number, variant: UniPCVariant): UniPCCoefficients {
  const t0 = tPrev[tPrev.length - 1]!;
  const lambda0 = f(-f(Math.log(t0)));
  const lambdaT = f(-f(Math.log(t)));
  const h = f(lambdaT - lambda0);
  const rks: number[] = [];
  for (let i = 1; i < order; i++) {
    const lambdaI = f(-f(Math.log(tPrev[tPrev.length - 1 - i]!)));
    rks.push(f(f(lambdaI - lambda0) / h));
  }
  const olderRks = [...rks];
  rks.push(1);
  const hh = f(-h);
  const hPhi1 = f(Math.expm1(hh));
  let hPhiK = f(f(hPhi1 / hh) - 1);
  const bH = variant === 'bh1' ? hh : f(Math.expm1(hh));
  let factorial = 1;
  const R: number[][] = [];
  const b: number[] = [];
  for (let i = 1; i <= order; i++) {
    R.push(rks.map((r) => f(r ** (i - 1))));
    b.push(f(f(hPhiK * factorial) / bH));
    factorial *= i + 1;
    hPhiK = f(f(hPhiK / hh) - f(1 / factorial));
  }
  const usePredictor = rks.length > 1;
  const rhosP = !usePredictor ? [] : order === 2 ? [0.5] : solveSmall(R.slice(0, -1).map((r) => r.slice(0, -1)), b.slice(0, -1)).map(f);
  const rhosC = order === 1 ? [0.5] : solveSmall(R, b).map(f);
  return { ratio: f(t / t0), hPhi1, bH, rks: olderRks, rhosP, rhosC };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** Runs the sampler; returns the last x0 prediction (FramePack never evaluates σ = 0). */
export async function sampleUniPC(opts: UniPCOptions): Promise<Float32Array> {
  const { sigmas, denoise, signal } = opts;
  const variant = opts.variant ?? 'bh1';
  const order = Math.min(3, sigmas.length - 2);
  const n = opts.noise.length;
  let x = opts.noise;
  let models: Float32Array[] = [];
  let ts: number[] = [];
  for (let i = 0; i < sigmas.length - 1; i++) {
    const t = sigmas[i]!;
    throwIfAborted(signal);
    if (i === 0) {
      models = [await denoise(x, t, i)];
      ts = [t];
    } else {
      const o = i < order ? i : order;
      const c = unipcCoefficients(ts, t, o, variant);
      const m0 = models[models.length - 1]!;
      // Older predictions newest first, as the reference lists them; D1_k = (m_k − m0) / r_k.
      const m1 = o > 1 ? models[models.length - 2]! : m0;
      const m2 = o > 2 ? models[models.length - 3]! : m0;
      const [r1 = 1, r2 = 1] = c.rks;
      const [p1 = 0, p2 = 0] = c.rhosP;
      const [c1 = 0, c2 = 0] = o > 1 ? c.rhosC : [];
      const cLast = c.rhosC[c.rhosC.length - 1]!;
      const { ratio, hPhi1, bH } = c;
      const kLast = bH * cLast;
      // One pass builds the predictor's latent and, in `rest`, every corrector term that does not
      // need the new prediction; the second pass adds the term that does.
      // Elementwise work in double, stored to float32 (no per-element fround: it tripled the cost of
      // this hot loop for differences of ~1e-7, far inside the 2e-4 conformance tolerance).
      const xPred = new Float32Array(n);
      const rest = new Float32Array(n);
      if (o === 1) {
        for (let p = 0; p < n; p++) {
          const base = ratio * x[p]! - hPhi1 * m0[p]!;
          xPred[p] = base;
          rest[p] = base;
        }
      } else {
        // D1_k = (m_k − m0)/r_k folded into per-term weights, so the loop has no division.
        const wp1 = (bH * p1) / r1, wp2 = (bH * p2) / r2, wc1 = (bH * c1) / r1, wc2 = (bH * c2) / r2;
        for (let p = 0; p < n; p++) {
          const mp0 = m0[p]!;
          const base = ratio * x[p]! - hPhi1 * mp0;
          const e1 = m1[p]! - mp0;
          const e2 = m2[p]! - mp0;
          xPred[p] = base - (e1 * wp1 + e2 * wp2);
          rest[p] = base - (e1 * wc1 + e2 * wc2);
        }
      }
      throwIfAborted(signal);
      const mt = await denoise(xPred, t, i);
      const next = xPred; // reused: the model has already consumed the predictor's latent
      for (let p = 0; p < n; p++) next[p] = rest[p]! - kLast * (mt[p]! - m0[p]!);
      x = next;
      models.push(mt);
      ts.push(t);
    }
    if (order > 0) {
      models = models.slice(-order);
      ts = ts.slice(-order);
    }
    await opts.onStep?.({ i, x, denoised: models[models.length - 1]! });
  }
  return models[models.length - 1]!;
}
