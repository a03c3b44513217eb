// The converted HunyuanVideo VAE against the PyTorch golden vectors (diffusers v0.33.1), atol 1e-4.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { conformanceHandlers } from '../../../src/conformance/handlers.ts';
import { vaeConformance } from '../../../src/conformance/vae.ts';

const GOLDEN = join(import.meta.dirname, '../../fixtures/golden/vae');

describe('vae conformance', () => {
  it('is registered and detects only the VAE golden set', async () => {
    expect(conformanceHandlers).toContain(vaeConformance);
    expect(await vaeConformance.detect(GOLDEN)).toBe(true);
    expect(await vaeConformance.detect(join(GOLDEN, '../transformer'))).toBe(false);
    expect(await vaeConformance.detect(join(GOLDEN, 'no-such-dir'))).toBe(false);
  });

  it('reproduces decode, 1-frame encode and 5-frame encode within 1e-4', async () => {
    const lines = await vaeConformance.run(GOLDEN);
    for (const l of lines) console.log(`vae conformance ${l.name}: max abs ${l.maxAbs.toExponential(2)} (atol ${l.atol})`);
    expect(lines.map((l) => l.name)).toEqual([
      'out.decoded',
      'out.latent_mean',
      'out.latent_logvar',
      'out.latent5_mean',
      'out.latent5_logvar',
    ]);
    for (const l of lines) {
      expect(l.atol).toBe(1e-4);
      expect(l.maxAbs, l.name).toBeLessThanOrEqual(1e-4);
      expect(l.pass).toBe(true);
    }
  });
});
