// Every parameter of AutoencoderKLHunyuanVideo for a config, with its official key and shape
// (the module tree of the diffusers class). Used to make tiny checkpoints and to check real ones.
import { downsamplePlan, upsamplePlan, type VaeConfig } from './config.ts';

export function vaeParameterShapes(cfg: VaeConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const conv = (prefix: string, cin: number, cout: number, k: number) => {
    shapes.set(`${prefix}.weight`, [cout, cin, k, k, k]);
    shapes.set(`${prefix}.bias`, [cout]);
  };
  const norm = (prefix: string, c: number) => {
    shapes.set(`${prefix}.weight`, [c]);
    shapes.set(`${prefix}.bias`, [c]);
  };
  const resnet = (prefix: string, cin: number, cout: number) => {
    norm(`${prefix}.norm1`, cin);
    conv(`${prefix}.conv1.conv`, cin, cout, 3);
    norm(`${prefix}.norm2`, cout);
    conv(`${prefix}.conv2.conv`, cout, cout, 3);
    if (cin !== cout) conv(`${prefix}.conv_shortcut.conv`, cin, cout, 1);
  };
  const mid = (prefix: string, c: number) => {
    resnet(`${prefix}.resnets.0`, c, c);
    if (cfg.midBlockAddAttention) {
      const a = `${prefix}.attentions.0`;
      norm(`${a}.group_norm`, c);
      for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
        shapes.set(`${a}.${p}.weight`, [c, c]);
        shapes.set(`${a}.${p}.bias`, [c]);
      }
    }
    resnet(`${prefix}.resnets.1`, c, c);
  };
  const ch = cfg.blockOutChannels;
  const last = ch[ch.length - 1]!;
  const L = cfg.latentChannels;

  conv('encoder.conv_in.conv', cfg.inChannels, ch[0]!, 3);
  let cin = ch[0]!;
  downsamplePlan(cfg).forEach((stride, i) => {
    const cout = ch[i]!;
    for (let j = 0; j < cfg.layersPerBlock; j++) resnet(`encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? cin : cout, cout);
    if (stride) conv(`encoder.down_blocks.${i}.downsamplers.0.conv.conv`, cout, cout, 3);
    cin = cout;
  });
  mid('encoder.mid_block', last);
  norm('encoder.conv_norm_out', last);
  conv('encoder.conv_out.conv', last, 2 * L, 3);
  conv('quant_conv', 2 * L, 2 * L, 1);

  conv('post_quant_conv', L, L, 1);
  conv('decoder.conv_in.conv', L, last, 3);
  mid('decoder.mid_block', last);
  const reversed = [...ch].reverse();
  cin = last;
  upsamplePlan(cfg).forEach((factor, i) => {
    const cout = reversed[i]!;
    for (let j = 0; j <= cfg.layersPerBlock; j++) resnet(`decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? cin : cout, cout);
    if (factor) conv(`decoder.up_blocks.${i}.upsamplers.0.conv.conv`, cout, cout, 3);
    cin = cout;
  });
  norm('decoder.conv_norm_out', ch[0]!);
  conv('decoder.conv_out.conv', ch[0]!, cfg.outChannels, 3);
  return shapes;
}
