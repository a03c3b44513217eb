// The environment the engine process gets: an allow-list, not a copy of ours. The engine needs the
// system's paths, locale, the GPU and threading knobs and the ffmpeg path; it never needs a bot
// token, an API key or REDIS_URL (its job arrives over IPC), so a crash dump, a native library's
// diagnostics or a compromised model file cannot read them from its environment.

/** Variables passed by exact name. */
const EXACT = new Set([
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'TMP', 'TEMP', 'TZ', 'LANG', 'LANGUAGE',
  'XDG_RUNTIME_DIR', 'XDG_CACHE_HOME', 'LD_LIBRARY_PATH', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_ENV',
  'FFMPEG_PATH', 'FFPROBE_PATH', 'LOG_LEVEL', 'SYSTEMROOT', 'WINDIR',
]);

/** Variables passed by prefix: locale, CUDA/NVIDIA, Vulkan/Mesa (lavapipe), OpenMP and onnxruntime threads. */
const PREFIXES = ['LC_', 'CUDA_', 'NVIDIA_', 'VK_', 'MESA_', 'LP_', 'GALLIUM_', 'OMP_', 'ORT_', 'MKL_', 'OPENBLAS_'];

export function isEngineVariable(name: string): boolean {
  return EXACT.has(name) || PREFIXES.some((p) => name.startsWith(p));
}

/** The allowed part of `parent`, with `extra` (set by us, e.g. CUDA_VISIBLE_DEVICES) on top. */
export function engineEnvironment(parent: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(parent)) if (value !== undefined && isEngineVariable(name)) env[name] = value;
  return { ...env, ...extra };
}
