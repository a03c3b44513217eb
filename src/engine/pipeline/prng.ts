// Seeded noise for the sampler. torch.randn's stream (Philox/mt19937 plus its own normal transform)
// is not reproduced: the same seed gives a different (but equally valid) video than FramePack.
//
// Generator: xoshiro128** (Blackman & Vigna), state four uint32 words, seeded from the 32-bit seed
// with splitmix32. Normals: Box–Muller on two uniforms u = (k + 0.5) / 2^32, both outputs used; an
// odd count drops the spare, so the whole generator state is the four words (easy to checkpoint).
export type PrngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class NoiseGenerator {
  private s: Uint32Array;

  constructor(seedOrState: number | PrngState) {
    if (typeof seedOrState === 'number') {
      const next = splitmix32(seedOrState);
      this.s = Uint32Array.from([next(), next(), next(), next()]);
    } else {
      this.s = Uint32Array.from(seedOrState);
    }
    if (this.s.every((w) => w === 0)) this.s[0] = 1; // the all-zero state is a fixed point
  }

  state(): PrngState {
    return [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!];
  }

  /** Next uint32 (xoshiro128**). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Standard normal samples. */
  normals(count: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      const u1 = (this.nextUint32() + 0.5) / 4294967296;
      const u2 = (this.nextUint32() + 0.5) / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
