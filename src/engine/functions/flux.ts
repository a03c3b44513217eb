// Sigma schedule of FramePack's sample_hunyuan: calculate_flux_mu (Python doubles) and
// get_flux_sigmas_from_mu (torch float32). Math.fround marks every float32 rounding torch does,
// so the schedule matches the reference bit for bit.
const f = Math.fround;

/** Linear map from sequence length to mu, clipped at log(expMax). Python float64 arithmetic. */
export function calculateFluxMu(seqLength: number, expMax = 7.0): number {
  const x1 = 256, y1 = 0.5, x2 = 4096, y2 = 1.15;
  const k = (y2 - y1) / (x2 - x1);
  const b = y1 - k * x1;
  return Math.min(k * seqLength + b, Math.log(expMax));
}

/**
 * torch.linspace(start, end, steps) for float32 exactly as torch's CPU kernel (AVX2 build) computes
 * it: scalar elements count up from start in the first half and down from end in the second, but
 * the vectorised loop fills blocks of 2×8 lanes as `base + lane·step` from each 8-lane block's base,
 * which rounds differently. Reproducing both makes the sigma schedule bit-exact.
 */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = f(start);
    return out;
  }
  const s = f(start), e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const scalar = (i: number): number => (i < halfway ? f(s + f(step * i)) : f(e - f(step * (steps - i - 1))));
  const lanes = 8;
  let idx = 0;
  for (; idx + 2 * lanes <= steps; idx += 2 * lanes) {
    for (let block = 0; block < 2; block++) {
      const at = idx + block * lanes;
      const base = scalar(at);
      for (let lane = 0; lane < lanes; lane++) out[at + lane] = f(base + f(lane * step));
    }
  }
  for (; idx < steps; idx++) out[idx] = scalar(idx);
  return out;
}

/**
 * `exp(mu) / (exp(mu) + (1/t − 1))` over `linspace(1, 0, n+1)`. torch evaluates the scalar division
 * as `reciprocal(denominator) * exp(mu)` in float32; t = 0 gives exactly 0.
 */
export function fluxSigmas(numSteps: number, mu: number): Float32Array {
  const t = linspaceF32(1, 0, numSteps + 1);
  const em = f(Math.exp(mu));
  const out = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) {
    const shifted = f(f(1 / t[i]!) - 1);
    const denom = f(em + shifted);
    out[i] = f(f(1 / denom) * em);
  }
  return out;
}

/** Sigmas for a latent of T×H×W (seq length T·H·W/4, as sample_hunyuan computes it). */
export function sigmasForLatent(steps: number, t: number, h: number, w: number): Float32Array {
  return fluxSigmas(steps, calculateFluxMu(Math.floor((t * h * w) / 4)));
}
