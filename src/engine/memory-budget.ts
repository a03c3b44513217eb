// FramePack switches to its low-VRAM path (transformer blocks loaded one at a time, the VAE decoded
// in tiles) below 60 GB of free GPU memory; MEMORY_BUDGET_GB plays that role here. Above it the VAE
// still tiles when an untiled decode would not fit next to the weights: its peak is computed from
// the VAE's config at the bucket (vae/decode-peak.ts), not found out by the OOM killer.
import type { VaeConfig } from './vae/config.ts';
import { untiledDecodePeakBytes } from './vae/decode-peak.ts';

export const LOW_MEMORY_BELOW_GB = 60;

export function lowMemoryForBudget(budgetGb: number | undefined): boolean {
  return budgetGb !== undefined && budgetGb < LOW_MEMORY_BELOW_GB;
}

export interface DecodeTilingPlan {
  tiled: boolean;
  /** One untiled decoder call's computed peak at the bucket, in bytes (undefined without a VAE). */
  untiledPeakBytes?: number;
  /** For the engine's description and the startup log. */
  why: string;
}

const GB = 2 ** 30;
const gb = (bytes: number) => `${(bytes / GB).toFixed(1)} GB`;

/**
 * `weightBytes`: every network's weights (the plan's worst case: all of them resident at once).
 * No budget means "everything resident, untiled" (tests, and operators who say so).
 */
export function planDecodeTiling(vaeConfig: VaeConfig | undefined, resolution: number, budgetGb: number | undefined, weightBytes: number): DecodeTilingPlan {
  const peak = vaeConfig === undefined ? undefined : untiledDecodePeakBytes(vaeConfig, resolution);
  const at = peak === undefined ? '' : ` (an untiled decode at ${resolution} peaks at ≈${gb(peak)})`;
  if (budgetGb === undefined) return { tiled: false, ...(peak !== undefined && { untiledPeakBytes: peak }), why: `VAE decoded untiled: no memory budget${at}` };
  if (lowMemoryForBudget(budgetGb)) return { tiled: true, ...(peak !== undefined && { untiledPeakBytes: peak }), why: `VAE decoded in tiles: budget ${budgetGb} GB < ${LOW_MEMORY_BELOW_GB} GB, as FramePack${at}` };
  if (peak !== undefined && peak > budgetGb * GB - weightBytes) {
    return { tiled: true, untiledPeakBytes: peak, why: `VAE decoded in tiles: an untiled decode at ${resolution} peaks at ≈${gb(peak)}, more than the ${gb(Math.max(0, budgetGb * GB - weightBytes))} the weights leave of ${budgetGb} GB` };
  }
  return { tiled: false, ...(peak !== undefined && { untiledPeakBytes: peak }), why: `VAE decoded untiled${at}` };
}
