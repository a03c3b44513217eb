#!/usr/bin/python3
# Times FramePack's OWN packed transformer (diffusers_helper.models.hunyuan_video_packed,
# HunyuanVideoTransformer3DModelPacked.forward, batch 1, TeaCache off) on the same weights and
# inputs as bench/pytorch/packed_transformer.py, so `npm run bench threads` can show that our PyTorch
# contender is as fast as the reference it stands for. FramePack and diffusers are NOT part of this
# repository: pass a folder that holds them (FRAMEPACK_REF_DIR, see docs/benchmarks.md for the
# recipe: FramePack 97fe5db's diffusers_helper, diffusers v0.33.1's src/diffusers,
# huggingface_hub v0.30.0, einops, and the small shims for Debian's torch 1.13).
#
# Usage: /usr/bin/python3 framepack_reference.py --framepack DIR --weights DIR --inputs IO.safetensors
#            --threads N [--out OUT.safetensors] [--warmup 2] [--repeats 2] [--blocks]
# --blocks also times each transformer block with forward hooks (what the bench compares per block).
# Prints one JSON line like packed_transformer.py.
import argparse
import json
import os
import sys
import time

import torch


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from packed_transformer import load_weights, read_safetensors, timing_args, write_safetensors  # our safetensors reader
    ap = timing_args(argparse.ArgumentParser())
    ap.add_argument('--framepack', required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.framepack)
    import diffusers.models.normalization as normalization
    if not hasattr(normalization.LayerNorm, 'normalized_shape'):
        # diffusers defines its own LayerNorm class below torch 2.1; FramePack patches the forward of
        # the class it imports assuming nn.LayerNorm's attributes, so give it nn.LayerNorm (same math).
        normalization.LayerNorm = torch.nn.LayerNorm
    from diffusers_helper.models.hunyuan_video_packed import HunyuanVideoTransformer3DModelPacked

    torch.set_num_threads(a.threads)
    with open(os.path.join(a.weights, 'config.json')) as f:
        config = {k: v for k, v in json.load(f).items() if not k.startswith('_')}
    model = HunyuanVideoTransformer3DModelPacked(**config).eval()
    missing, unexpected = model.load_state_dict(load_weights(a.weights), strict=True), None
    del missing, unexpected
    io = read_safetensors(a.inputs)
    i = {k[3:]: v for k, v in io.items() if k.startswith('in.')}
    kwargs = dict(
        hidden_states=i['hidden_states'], timestep=i['timestep'], encoder_hidden_states=i['encoder_hidden_states'],
        encoder_attention_mask=i['encoder_attention_mask'].bool(), pooled_projections=i['pooled_projections'],
        guidance=i['guidance'], latent_indices=i['latent_indices'], clean_latents=i['clean_latents'],
        clean_latent_indices=i['clean_latent_indices'], clean_latents_2x=i['clean_latents_2x'],
        clean_latent_2x_indices=i['clean_latent_2x_indices'], clean_latents_4x=i['clean_latents_4x'],
        clean_latent_4x_indices=i['clean_latent_4x_indices'], image_embeddings=i['image_embeddings'], return_dict=False,
    )
    block_ms = {}
    if a.blocks:
        starts = {}
        for name, mod in [*((f'dual.{n}', b) for n, b in enumerate(model.transformer_blocks)),
                          *((f'single.{n}', b) for n, b in enumerate(model.single_transformer_blocks))]:
            mod.register_forward_pre_hook(lambda m, x, name=name: starts.__setitem__(name, time.perf_counter()))
            mod.register_forward_hook(lambda m, x, y, name=name: block_ms.setdefault(name, []).append((time.perf_counter() - starts[name]) * 1000))
    with torch.no_grad():
        for _ in range(a.warmup):
            model(**kwargs)
        times = []
        cpu0 = time.process_time()
        for _ in range(max(1, a.repeats)):
            t0 = time.perf_counter()
            out = model(**kwargs)[0]
            times.append((time.perf_counter() - t0) * 1000)
        cpu = (time.process_time() - cpu0) * 1000
    result = {'ms': min(times), 'threads': torch.get_num_threads(), 'cpuPerWall': cpu / sum(times), 'torch': torch.__version__}
    if a.blocks:
        result['blocks'] = {k: min(v[a.warmup:]) for k, v in block_ms.items()}
    if a.out:
        write_safetensors(a.out, {'sample': out})
    print(json.dumps(result))


if __name__ == '__main__':
    sys.exit(main())
