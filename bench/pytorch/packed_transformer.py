#!/usr/bin/python3
# Our own PyTorch reference implementation of the packed HunyuanVideo transformer (FramePack's
# HunyuanVideoTransformer3DModelPacked, batch 1, TeaCache off), written for benchmarking only: it
# computes the same math as our ONNX graphs (src/engine/transformer/{embed,blocks,head,layers}.ts)
# in plain torch ops, so `npm run bench threads` can time a PyTorch contender on the same config,
# weights and inputs as ours. It is not FramePack's or diffusers' code and is not used by the bot.
#
# Usage (Debian python3-torch, with OpenBLAS as the BLAS alternative):
#   /usr/bin/python3 packed_transformer.py --weights DIR --inputs IO.safetensors --threads N
#       [--out OUT.safetensors] [--warmup 2] [--repeats 2] [--golden] [--blocks]
# DIR holds config.json and diffusion_pytorch_model*.safetensors (sharded or not, bf16 or fp32; the
# official layout). IO.safetensors holds the `in.*` tensors of the golden set's layout
# (/work/shared/golden/transformer/README.md); --golden also compares with its `out.sample`.
# Prints one JSON line: ms per call (best of the timed calls), threads, and the comparison if asked.
import argparse
import glob
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {'F32': torch.float32, 'BF16': torch.bfloat16, 'F16': torch.float16, 'I64': torch.int64}
SIZES = {'F32': 4, 'BF16': 2, 'F16': 2, 'I64': 8}


# ---- safetensors (the format is an 8-byte LE header length, a JSON header, raw LE data) ----------

def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        start, end = info['data_offsets']
        t = torch.frombuffer(data, dtype=DTYPES[info['dtype']], count=(end - start) // SIZES[info['dtype']], offset=start)
        out[name] = t.reshape(info['shape'])
    return out


def write_safetensors(path, tensors):
    names = sorted(tensors)
    header, blobs, offset = {}, [], 0
    for name in names:
        t = tensors[name].contiguous().float()
        raw = t.numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    js = json.dumps(header).encode()
    js += b' ' * ((8 - len(js) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def load_weights(folder):
    files = sorted(glob.glob(os.path.join(folder, 'diffusion_pytorch_model*.safetensors')))
    if not files:
        raise SystemExit(f'No diffusion_pytorch_model*.safetensors in {folder}.')
    w = {}
    for f in files:
        # Weights compute in float32, like our fp32 graphs (bf16 checkpoints are widened exactly).
        w.update({k: v.float() for k, v in read_safetensors(f).items()})
    return w


# ---- layers ------------------------------------------------------------------------------------

def attention(q, k, v, mask=None):
    """q, k, v [1, L, H, hd] → [1, L, H·hd]; softmax(q kᵀ/√hd + mask) v per head."""
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    if hasattr(F, 'scaled_dot_product_attention'):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    elif hasattr(F, '_scaled_dot_product_attention'):
        # torch 1.13 ships SDPA as a private function returning (output, weights).
        out = F._scaled_dot_product_attention(q, k, v, mask, 0.0, False, False)[0]
    else:
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        out = torch.softmax(s if mask is None else s + mask, dim=-1) @ v
    return out.transpose(1, 2).flatten(2)


def rms_norm(x, weight, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def layer_norm(x, eps=1e-6, weight=None, bias=None):
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def timestep_projection(t):
    """diffusers Timesteps(256, flip_sin_to_cos=True, shift 0): [cos(t·f), sin(t·f)]."""
    half = 128
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    arg = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


def rope_frequencies(dim, theta):
    return (1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)).repeat_interleave(2)


def apply_rope(x, cos, sin):
    """x [1, L, H, hd]; pairs (a, b) rotate to (−b, a); cos/sin [1, L, 1, hd]."""
    pairs = x.unflatten(-1, (-1, 2))
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)
    return x * cos + rotated * sin


def pad_to_multiple(x, k):
    """Replicate-pads the end of T, H, W of [1, C, T, H, W] to multiples of k."""
    pads = [(kk - s % kk) % kk for s, kk in zip(x.shape[2:], k)]
    if not any(pads):
        return x
    return F.pad(x, (0, pads[2], 0, pads[1], 0, pads[0]), mode='replicate')


class PackedTransformer:
    def __init__(self, config, w):
        self.w = w
        self.heads = config['num_attention_heads']
        self.hd = config['attention_head_dim']
        self.dim = self.heads * self.hd
        self.layers = config['num_layers']
        self.single = config['num_single_layers']
        self.refiner = config['num_refiner_layers']
        self.theta = float(config.get('rope_theta', 256.0))
        self.axes = config.get('rope_axes_dim', [16, 56, 56])
        self.p = config.get('patch_size', 2)
        self.pt = config.get('patch_size_t', 1)
        self.out_ch = config.get('out_channels', 16)

    def lin(self, x, name):
        return F.linear(x, self.w[name + '.weight'], self.w[name + '.bias'])

    def mlp_embed(self, x, name):
        return self.lin(F.silu(self.lin(x, name + '.linear_1')), name + '.linear_2')

    def mod(self, temb, name, n):
        return self.lin(F.silu(temb), name).unsqueeze(1).chunk(n, dim=-1)

    def patch(self, x, name, k):
        y = F.conv3d(x, self.w[name + '.weight'], self.w[name + '.bias'], stride=k)
        return y.flatten(2).transpose(1, 2), y.shape[2:]

    def rope(self, frames, h, w, pool=None):
        """[1, N, 2·hd] rope rows [cosT, cosY, cosX, sinT, sinY, sinX] for a T×h×w grid (optionally pooled)."""
        pos = [frames.float(), torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32)]
        shape = (frames.numel(), h, w)
        cos, sin = [], []
        for a, d in enumerate(self.axes):
            ang = pos[a][:, None] * rope_frequencies(d, self.theta)[None, :]
            view = [1, 1, 1, d]
            view[a] = -1
            cos.append(torch.cos(ang).reshape(view).expand(*shape, d))
            sin.append(torch.sin(ang).reshape(view).expand(*shape, d))
        grid = torch.cat(cos + sin, dim=-1)  # [T, h, w, C]
        c = grid.shape[-1]
        if pool is None:
            return grid.reshape(1, -1, c)
        x = pad_to_multiple(grid.permute(3, 0, 1, 2).unsqueeze(0), pool)
        return F.avg_pool3d(x, pool, pool).flatten(2).transpose(1, 2)

    def heads_of(self, x, name, norm=None):
        y = self.lin(x, name).unflatten(-1, (self.heads, self.hd))
        return rms_norm(y, self.w[norm]) if norm else y

    def mod_norm(self, x, shift, scale):
        return layer_norm(x) * (1 + scale) + shift

    def ff(self, x, name, act):
        h = self.lin(x, name + '.net.0.proj')
        h = F.silu(h) if act == 'silu' else F.gelu(h, approximate='tanh')
        return self.lin(h, name + '.net.2')

    def embed(self, i):
        noisy, grid = self.patch(i['hidden_states'], 'x_embedder.proj', (self.pt, self.p, self.p))
        _, ph, pw = grid
        c1, _ = self.patch(i['clean_latents'], 'clean_x_embedder.proj', (1, 2, 2))
        c2, _ = self.patch(pad_to_multiple(i['clean_latents_2x'], (2, 4, 4)), 'clean_x_embedder.proj_2x', (2, 4, 4))
        c4, _ = self.patch(pad_to_multiple(i['clean_latents_4x'], (4, 8, 8)), 'clean_x_embedder.proj_4x', (4, 8, 8))
        hidden = torch.cat([c4, c2, c1, noisy], dim=1)
        rope = torch.cat([
            self.rope(i['clean_latent_4x_indices'].flatten(), ph, pw, (4, 4, 4)),
            self.rope(i['clean_latent_2x_indices'].flatten(), ph, pw, (2, 2, 2)),
            self.rope(i['clean_latent_indices'].flatten(), ph, pw),
            self.rope(i['latent_indices'].flatten(), ph, pw),
        ], dim=1)

        t_proj = timestep_projection(i['timestep'])
        temb = (self.mlp_embed(t_proj, 'time_text_embed.timestep_embedder')
                + self.mlp_embed(timestep_projection(i['guidance']), 'time_text_embed.guidance_embedder')
                + self.mlp_embed(i['pooled_projections'], 'time_text_embed.text_embedder'))

        # Token refiner: mask-weighted mean as its pooled input, boolean self-mask with key 0 always visible.
        text = i['encoder_hidden_states']
        mask = i['encoder_attention_mask'].float()
        mean = (text * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        ce = 'context_embedder'
        temb_c = self.mlp_embed(t_proj, ce + '.time_text_embed.timestep_embedder') + self.mlp_embed(mean, ce + '.time_text_embed.text_embedder')
        allowed = (mask[:, :, None] * mask[:, None, :]) > 0.5
        allowed[..., 0] = True
        bias = torch.zeros(allowed.shape).masked_fill(~allowed, -1e30).unsqueeze(1)
        ctx = self.lin(text, ce + '.proj_in')
        for r in range(self.refiner):
            p = f'{ce}.token_refiner.refiner_blocks.{r}'
            n1 = layer_norm(ctx, 1e-6, self.w[p + '.norm1.weight'], self.w[p + '.norm1.bias'])
            q, k, v = (self.heads_of(n1, f'{p}.attn.{n}') for n in ('to_q', 'to_k', 'to_v'))
            attn = self.lin(attention(q, k, v, bias), p + '.attn.to_out.0')
            gate_msa, gate_mlp = self.mod(temb_c, p + '.norm_out.linear', 2)
            ctx = ctx + attn * gate_msa
            n2 = layer_norm(ctx, 1e-6, self.w[p + '.norm2.weight'], self.w[p + '.norm2.bias'])
            ctx = ctx + self.ff(n2, p + '.ff', 'silu') * gate_mlp

        image = self.lin(F.silu(self.lin(i['image_embeddings'], 'image_projection.up')), 'image_projection.down')
        keep = image.shape[1] + int(mask.sum().item())
        context = torch.cat([image, ctx], dim=1)[:, :keep]
        return hidden, context, temb, rope, tuple(grid)

    def dual(self, n, x, c, temb, cos, sin):
        p = f'transformer_blocks.{n}'
        sh, sc, gate, sh_m, sc_m, gate_m = self.mod(temb, p + '.norm1.linear', 6)
        csh, csc, cgate, csh_m, csc_m, cgate_m = self.mod(temb, p + '.norm1_context.linear', 6)
        nx, nc = self.mod_norm(x, sh, sc), self.mod_norm(c, csh, csc)
        a = p + '.attn'
        q = apply_rope(self.heads_of(nx, a + '.to_q', a + '.norm_q.weight'), cos, sin)
        k = apply_rope(self.heads_of(nx, a + '.to_k', a + '.norm_k.weight'), cos, sin)
        v = self.heads_of(nx, a + '.to_v')
        cq = self.heads_of(nc, a + '.add_q_proj', a + '.norm_added_q.weight')
        ck = self.heads_of(nc, a + '.add_k_proj', a + '.norm_added_k.weight')
        cv = self.heads_of(nc, a + '.add_v_proj')
        out = attention(torch.cat([q, cq], 1), torch.cat([k, ck], 1), torch.cat([v, cv], 1))
        li = x.shape[1]
        x = x + self.lin(out[:, :li], a + '.to_out.0') * gate
        c = c + self.lin(out[:, li:], a + '.to_add_out') * cgate
        x = x + gate_m * self.ff(self.mod_norm(x, sh_m, sc_m), p + '.ff', 'gelu-tanh')
        c = c + cgate_m * self.ff(self.mod_norm(c, csh_m, csc_m), p + '.ff_context', 'gelu-tanh')
        return x, c

    def single_block(self, n, x, c, temb, cos, sin):
        p = f'single_transformer_blocks.{n}'
        li = x.shape[1]
        joined = torch.cat([x, c], 1)
        sh, sc, gate = self.mod(temb, p + '.norm.linear', 3)
        normed = self.mod_norm(joined, sh, sc)
        mlp = F.gelu(self.lin(normed, p + '.proj_mlp'), approximate='tanh')
        a = p + '.attn'

        def roped(t):  # rope on the image tokens only
            return torch.cat([apply_rope(t[:, :li], cos, sin), t[:, li:]], 1)

        q = roped(self.heads_of(normed, a + '.to_q', a + '.norm_q.weight'))
        k = roped(self.heads_of(normed, a + '.to_k', a + '.norm_k.weight'))
        v = self.heads_of(normed, a + '.to_v')
        out = self.lin(torch.cat([attention(q, k, v), mlp], 2), p + '.proj_out')
        y = gate * out + joined
        return y[:, :li], y[:, li:]

    def head(self, x, temb, grid):
        scale, shift = self.mod(temb, 'norm_out.linear', 2)
        t, h, w = grid
        out = self.lin(self.mod_norm(x, shift, scale)[:, -t * h * w:], 'proj_out')
        out = out.reshape(1, t, h, w, self.out_ch, self.pt, self.p, self.p).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return out.reshape(1, self.out_ch, t * self.pt, h * self.p, w * self.p)

    @torch.no_grad()
    def __call__(self, inputs, block_ms=None):
        x, c, temb, rope, grid = self.embed(inputs)
        cos, sin = (r.unsqueeze(2) for r in rope.chunk(2, dim=-1))
        for name, block in [*((f'dual.{n}', lambda x, c, n=n: self.dual(n, x, c, temb, cos, sin)) for n in range(self.layers)),
                            *((f'single.{n}', lambda x, c, n=n: self.single_block(n, x, c, temb, cos, sin)) for n in range(self.single))]:
            t0 = time.perf_counter()
            x, c = block(x, c)
            if block_ms is not None:
                block_ms.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        return self.head(x, temb, grid)


def timing_args(ap):
    """The options both PyTorch sides of the bench take (this script and framepack_reference.py)."""
    ap.add_argument('--weights', required=True)
    ap.add_argument('--inputs', required=True)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out')
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--blocks', action='store_true', help='also report each block\'s best time (ms)')
    return ap


def main():
    ap = timing_args(argparse.ArgumentParser(description=__doc__))
    ap.add_argument('--golden', action='store_true', help='compare with out.sample in --inputs')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.weights, 'config.json')) as f:
        config = json.load(f)
    model = PackedTransformer(config, load_weights(a.weights))
    io = read_safetensors(a.inputs)
    inputs = {k[3:]: v for k, v in io.items() if k.startswith('in.')}
    block_ms = {} if a.blocks else None
    for _ in range(a.warmup):
        model(inputs)
    times = []
    cpu0 = time.process_time()
    for _ in range(max(1, a.repeats)):
        t0 = time.perf_counter()
        out = model(inputs, block_ms)
        times.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - cpu0) * 1000
    result = {'ms': min(times), 'threads': torch.get_num_threads(), 'cpuPerWall': cpu / sum(times), 'torch': torch.__version__}
    if block_ms is not None:
        result['blocks'] = {k: min(v) for k, v in block_ms.items()}
    if a.golden:
        result['goldenMaxAbs'] = (out - io['out.sample']).abs().max().item()
    if a.out:
        write_safetensors(a.out, {'sample': out})
    print(json.dumps(result))


if __name__ == '__main__':
    sys.exit(main())
