#!/usr/bin/env bash
# RecurVid GPU check, run on the GPU machine from the unpacked bundle:
#   tar -xJf recurvid-gpu-check.tar.xz && gpu-check/run.sh [--size full|small] [--blocks 2,4]
#     [--providers webgpu,cuda] [--precisions fp16,int4] [--layouts resident,streaming] [--steps 2]
# Needs nothing from a registry: the Node binary, the engine and onnxruntime are in this folder.
# Says what is missing for WebGPU (Vulkan loader, NVIDIA's Vulkan ICD) and CUDA, then runs the check.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
ortbin="$here/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"

echo "== machine"
uname -srm
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
else
  echo "missing: nvidia-smi (no NVIDIA driver user space on PATH): GPU memory high-water marks will read n/a"
fi

echo "== Vulkan (WebGPU runs on Vulkan through Dawn)"
have_lib() {
  { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q "$1" && return 0
  for f in /usr/lib*/"$1"* /usr/lib/*-linux-gnu/"$1"* /lib*/"$1"* /lib/*-linux-gnu/"$1"* /usr/local/lib/"$1"*; do [ -e "$f" ] && return 0; done
  return 1
}
if have_lib libvulkan.so.1; then echo "ok: Vulkan loader libvulkan.so.1"; else
  echo "missing: the Vulkan loader libvulkan.so.1 (Debian/Ubuntu package libvulkan1): WebGPU cannot start"; fi
icds=""
for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/share/glvnd/egl_vendor.d; do
  [ -d "$d" ] && icds="$icds $(ls "$d"/*.json 2>/dev/null | tr '\n' ' ')"
done
nv=""
for f in $icds; do case "$f" in *nvidia*) nv="$f";; esac; done
if [ -n "$nv" ]; then
  lib=$(grep -o '"library_path"[^,}]*' "$nv" | sed 's/.*: *"\(.*\)"/\1/')
  if [ -n "$lib" ] && { [ -e "$lib" ] || have_lib "$(basename "$lib")"; }; then echo "ok: NVIDIA Vulkan ICD $nv → $lib"
  else echo "missing: $nv names $lib, which is not installed (the driver's Vulkan part; in containers set NVIDIA_DRIVER_CAPABILITIES to include graphics)"; fi
else
  echo "missing: NVIDIA's Vulkan ICD (nvidia_icd.json in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d): WebGPU will find no NVIDIA adapter;"
  echo "         in containers set NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics. ICDs present:${icds:- none}"
fi

echo "== CUDA"
if [ -e "$ortbin/libonnxruntime_providers_cuda.so" ]; then
  echo "ok: onnxruntime CUDA provider library is in the bundle"
  for l in libcudart.so.12 libcublas.so.12 libcudnn.so.9; do have_lib "$l" && echo "ok: $l" || echo "missing: $l (CUDA 12 / cuDNN 9 runtime the provider links against)"; done
else
  echo "missing: onnxruntime's CUDA provider library (libonnxruntime_providers_cuda.so): the bundle was built without it; CUDA lines will say skipped"
fi

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-recurvid}"
mkdir -p "$XDG_RUNTIME_DIR"
echo "== check"
exec "$here/node" "$here/recurvid-gpu-check.mjs" --work "${RECURVID_GPU_WORK:-$here/work}" "$@"
