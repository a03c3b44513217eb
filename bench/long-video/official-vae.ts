// The official VAE width at the 640 bucket, in a process of its own (so the peak RSS is its own):
// random weights with diffusers' AutoencoderKLHunyuanVideo config, written here, then latents of
// LONG_VIDEO_VAE_LATENT_FRAMES (default 1) frames of 76×80 decoded with the tiling the memory plan
// chooses on this machine. Prints one JSON line: the decode time, decoder calls, peak RSS and the
// computed peak of one decoder call (vae/decode-peak.ts) next to the measured one. Writing the
// weights raises the process's high-water mark above the decode's, so `build` runs in a process of
// its own first. Usage: official-vae.ts build|decode <work dir>
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { planDecodeTiling } from '../../src/engine/memory-budget.ts';
import { decoderCallPeakBytes } from '../../src/engine/vae/decode-peak.ts';
import { HunyuanVae } from '../../src/engine/vae/runtime.ts';
import { plannedMemoryBudget } from '../../src/startup.ts';
import { writeSectionVae } from '../gpu/section.ts';

const [mode, work] = process.argv.slice(2);
if ((mode !== 'build' && mode !== 'decode') || !work) throw new Error('usage: official-vae.ts build|decode <work dir>');
if (mode === 'build') {
  const t0 = performance.now();
  await writeSectionVae(work, 'full', 'cpu');
  process.stdout.write(`${JSON.stringify({ buildS: (performance.now() - t0) / 1000 })}\n`);
  process.exit(0);
}
const setDir = join(work, 'set');
const frames = Number(process.env.LONG_VIDEO_VAE_LATENT_FRAMES ?? 1);
const vae = await HunyuanVae.load(setDir, { provider: 'cpu' });
const budget = plannedMemoryBudget(loadConfig(), 'cpu');
const plan = planDecodeTiling(vae.config, 640, budget.budgetGb, 0);
const dims = [1, 16, frames, 76, 80];
const latents = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.37)), dims };
const baseRssKiB = process.resourceUsage().maxRSS;
const t1 = performance.now();
const out = await vae.decode(latents, { tiled: plan.tiled });
const decodeS = (performance.now() - t1) / 1000;
const tile = plan.tiled ? { frames, height: 32, width: 32 } : { frames, height: 76, width: 80 };
process.stdout.write(`${JSON.stringify({
  decodeS, frames: out.dims[2], height: out.dims[3], width: out.dims[4], calls: vae.calls.decoder, tiled: plan.tiled,
  peakRssBytes: process.resourceUsage().maxRSS * 1024, aboveLoadBytes: (process.resourceUsage().maxRSS - baseRssKiB) * 1024,
  computedCallPeakBytes: decoderCallPeakBytes(vae.config, tile), why: plan.why,
})}\n`);
await vae.close();
