// One transformer call chained on the device (WebGPU): embed → blocks → head pass `gpu-buffer`
// tensors from session to session, TeaCache's relative-L1 and its skip residual run as two small
// graphs next to them, and section-constant inputs (text, image, clean latents) are uploaded once.
// Per step only the noisy latents and a few scalars go to the device, and only the velocity and two
// sums come back. onnxruntime-node cannot read a `gpu-buffer` tensor from JS, so every value the
// host needs is an output a session leaves in host memory.
import { GraphBuilder } from '../onnx/graph.ts';
import type { ort } from '../runtime/session.ts';
import type { BlockCache } from './block-cache.ts';
import type { Tensor } from '../functions/tensor.ts';
import { openSession, type BlockRunner, type Feeds, type SessionFactory } from './blocks-runtime.ts';
import type { TrafficMeter } from './traffic.ts';
import { SECTION_CONSTANT_FEEDS } from './plan.ts';

type Session = ort.InferenceSession;

/** Embed outputs that stay on the device. */
export const EMBED_DEVICE_OUTPUTS = ['hidden', 'context', 'temb', 'rope', 'modulated', 'block0_modulation'];
/** Embed inputs that are the same for every step of a section (uploaded once). */
const SECTION_CONSTANT = SECTION_CONSTANT_FEEDS;

function rankInput(g: GraphBuilder, name: string, rank: number): string {
  return g.input(name, 'float32', Array.from({ length: rank }, (_, i) => `d${i}`));
}

/** x → x, output left on the device: how a host tensor becomes a `gpu-buffer` tensor. */
function uploadGraph(rank: number): Promise<Uint8Array> {
  const g = new GraphBuilder(`upload_rank${rank}`);
  const x = rankInput(g, 'x', rank);
  // Identity may be optimised away into a host copy; adding zero keeps a real device kernel.
  g.output(g.op('Add', [x, g.f32(0)]), 'y', 'float32', Array.from({ length: rank }, (_, i) => `d${i}`));
  return g.toBytes();
}

/** TeaCache's distance: Σ|cur − prev| and Σ|prev| (the host divides: mean/mean = sum/sum). */
function relL1Graph(): Promise<Uint8Array> {
  const g = new GraphBuilder('teacache_rel_l1');
  const cur = rankInput(g, 'current', 3);
  const prev = rankInput(g, 'previous', 3);
  const sum = (x: string) => g.op('ReduceSum', [g.op('Abs', [x])], { keepdims: 0 });
  g.output(sum(g.op('Sub', [cur, prev])), 'numerator', 'float32', []);
  g.output(sum(prev), 'denominator', 'float32', []);
  return g.toBytes();
}

/** The skipped call's hidden states: hidden + (after − before), FramePack's float32 residual. */
function residualGraph(): Promise<Uint8Array> {
  const g = new GraphBuilder('teacache_residual');
  const hidden = rankInput(g, 'hidden', 3);
  const before = rankInput(g, 'before', 3);
  const after = rankInput(g, 'after', 3);
  g.output(g.op('Add', [hidden, g.op('Sub', [after, before])]), 'hidden_out', 'float32', ['d0', 'd1', 'd2']);
  return g.toBytes();
}

const free = (t: ort.Tensor | undefined) => {
  if (t?.location === 'gpu-buffer') t.dispose();
};

/** Last probe, and the token streams around the last computed blocks. */
interface DeviceCacheState {
  previousModulated?: ort.Tensor;
  lastBefore?: ort.Tensor;
  lastAfter?: ort.Tensor;
}

function freeState(s: DeviceCacheState): void {
  free(s.previousModulated);
  free(s.lastBefore);
  free(s.lastAfter);
}

export class DeviceStep {
  private uploads = new Map<number, Session>();
  private constants = new Map<Float32Array, ort.Tensor>();
  /** The block cache's tensors on the device, per cache (one per guidance branch; the newest two are kept). */
  private states = new Map<BlockCache, DeviceCacheState>();

  private constructor(
    private readonly factory: SessionFactory,
    private readonly relL1: Session,
    private readonly residual: Session,
  ) {}

  static async open(factory: SessionFactory): Promise<DeviceStep> {
    const relL1 = await openSession(factory, await relL1Graph());
    const residual = await openSession(factory, await residualGraph(), undefined, ['hidden_out']);
    return new DeviceStep(factory, relL1, residual);
  }

  private async upload(t: ort.Tensor, meter: TrafficMeter): Promise<ort.Tensor> {
    let s = this.uploads.get(t.dims.length);
    if (!s) {
      s = await openSession(this.factory, await uploadGraph(t.dims.length), undefined, ['y']);
      this.uploads.set(t.dims.length, s);
    }
    meter.input(t);
    return (await s.run({ x: t })).y!;
  }

  /**
   * Embed feeds with the section-constant tensors replaced by device copies (uploaded on first use,
   * freed when a call no longer uses them, i.e. at the next section).
   */
  private async deviceFeeds(feeds: Feeds, meter: TrafficMeter): Promise<Feeds> {
    const out: Feeds = {};
    const used = new Set<Float32Array>();
    for (const [name, t] of Object.entries(feeds)) {
      if (!SECTION_CONSTANT.includes(name)) {
        out[name] = t;
        meter.input(t);
        continue;
      }
      const key = t.data as Float32Array;
      let d = this.constants.get(key);
      if (!d) {
        d = await this.upload(t, meter);
        this.constants.set(key, d);
      }
      used.add(key);
      out[name] = d;
    }
    for (const [key, d] of this.constants) {
      if (!used.has(key)) {
        free(d);
        this.constants.delete(key);
      }
    }
    return out;
  }

  private stateFor(cache: BlockCache): DeviceCacheState {
    let st = this.states.get(cache);
    if (!st) {
      // A new section's caches replace the old ones: free what the device held for those.
      while (this.states.size >= 2) {
        const [oldest, old] = this.states.entries().next().value as [BlockCache, DeviceCacheState];
        freeState(old);
        this.states.delete(oldest);
      }
      st = {};
      this.states.set(cache, st);
    }
    return st;
  }

  async run(
    feeds: Feeds,
    sessions: { embed: Session; head: Session; blocks: BlockRunner },
    meter: TrafficMeter,
    cache?: BlockCache,
  ): Promise<Tensor> {
    const st = cache ? this.stateFor(cache) : undefined;
    const e = await sessions.embed.run(await this.deviceFeeds(feeds, meter), [...EMBED_DEVICE_OUTPUTS, 'latent_shape']);
    meter.output(e.latent_shape!);
    const keep = new Set<ort.Tensor>();
    try {
      let after: ort.Tensor;
      // A cache that compares the probe needs last call's probe too; MagCache decides from its table.
      const hasState = st !== undefined && st.lastAfter !== undefined && (!cache!.probesModulation || st.previousModulated !== undefined);
      const computed = cache
        ? await cache.decideOnDevice(hasState, async () => {
            const r = await this.relL1.run({ current: e.modulated!, previous: st!.previousModulated! });
            meter.output(r.numerator!);
            meter.output(r.denominator!);
            return (r.numerator!.data as Float32Array)[0]! / (r.denominator!.data as Float32Array)[0]!;
          })
        : true;
      if (st && cache!.probesModulation) {
        free(st.previousModulated);
        st.previousModulated = e.modulated!;
        keep.add(e.modulated!);
      }
      if (computed) {
        after = (await sessions.blocks.run(e as Feeds, meter)).hidden;
        if (st) {
          free(st.lastBefore);
          free(st.lastAfter);
          st.lastBefore = e.hidden!;
          st.lastAfter = after;
          keep.add(e.hidden!).add(after);
        }
      } else {
        after = (await this.residual.run({ hidden: e.hidden!, before: st!.lastBefore!, after: st!.lastAfter! })).hidden_out!;
      }
      const headFeeds: Feeds = { hidden: after, temb: e.temb!, latent_shape: e.latent_shape! };
      meter.input(e.latent_shape!);
      const out = await sessions.head.run(headFeeds);
      meter.output(out.sample!);
      if (!keep.has(after)) free(after);
      return { data: out.sample!.data as Float32Array, dims: [...out.sample!.dims] };
    } finally {
      for (const t of Object.values(e)) if (!keep.has(t)) free(t);
    }
  }

  async close(): Promise<void> {
    for (const st of this.states.values()) freeState(st);
    this.states.clear();
    for (const d of this.constants.values()) free(d);
    this.constants.clear();
    for (const s of this.uploads.values()) await s.release();
    await this.relL1.release();
    await this.residual.release();
  }
}
