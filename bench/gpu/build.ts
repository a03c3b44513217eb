// Builds the self-contained GPU check bundle: this Node binary, the engine + check bundled into one
// JS file (esbuild), onnxruntime-node's JS, native binding and shared libraries (the CUDA provider's
// too when installed), and run.sh; then one compressed tarball that must stay ≤ 60 MiB, because a
// GPU machine may take at most 64 MiB of carried files and has no package registry.
// Usage: npx tsx bench/gpu/build.ts [--out dist] [--no-compress] [--no-cuda]
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const BUNDLE_LIMIT_BYTES = 60 * 2 ** 20;

export interface BuiltBundle {
  dir: string;
  archive?: string;
  archiveBytes?: number;
  files: Array<{ path: string; bytes: number }>;
}

/** The folder named `name` that holds package.json, above a resolved entry file. */
function packageRootFrom(entry: string, name: string): string {
  let dir = dirname(entry);
  while (!(existsSync(join(dir, 'package.json')) && dir.endsWith(`/${name}`))) {
    if (dirname(dir) === dir) throw new Error(`Cannot find the ${name} package folder above ${entry}.`);
    dir = dirname(dir);
  }
  return dir;
}

function packageRoot(name: string): string {
  return packageRootFrom(createRequire(import.meta.url).resolve(name), name);
}

function listFiles(dir: string, base = dir): Array<{ path: string; bytes: number }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? listFiles(p, base) : [{ path: p.slice(base.length + 1), bytes: statSync(p).size }];
  });
}

export async function buildGpuBundle(outRoot: string, opts: { compress?: boolean; cuda?: boolean } = {}): Promise<BuiltBundle> {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = join(outRoot, 'gpu-check');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(here, 'check.ts')],
    outfile: join(dir, 'recurvid-gpu-check.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // onnxruntime-node loads its native binding relative to its own files; common must be the same instance.
    external: ['onnxruntime-node', 'onnxruntime-common'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  copyFileSync(process.execPath, join(dir, 'node'));
  chmodSync(join(dir, 'node'), 0o755);
  const ortNode = packageRoot('onnxruntime-node');
  const ortOut = join(dir, 'node_modules', 'onnxruntime-node');
  mkdirSync(ortOut, { recursive: true });
  copyFileSync(join(ortNode, 'package.json'), join(ortOut, 'package.json'));
  cpSync(join(ortNode, 'dist'), join(ortOut, 'dist'), { recursive: true, filter: (p) => !p.endsWith('.map') && !p.endsWith('.d.ts') });
  const bin = join('bin', 'napi-v6', process.platform, process.arch);
  // The CUDA provider libraries (when installed here) are hundreds of MB: `--no-cuda` leaves them out
  // when they would push the archive past the limit; the GPU machine then needs its own copy.
  cpSync(join(ortNode, bin), join(ortOut, bin), { recursive: true, filter: (p) => opts.cuda !== false || !/providers_(cuda|tensorrt)/.test(p) });
  const common = packageRootFrom(createRequire(join(ortNode, 'package.json')).resolve('onnxruntime-common'), 'onnxruntime-common');
  cpSync(common, join(dir, 'node_modules', 'onnxruntime-common'), { recursive: true, filter: (p) => !p.endsWith('.map') && !p.endsWith('.d.ts') && !p.includes('/lib/') });
  copyFileSync(join(here, 'run.sh'), join(dir, 'run.sh'));
  chmodSync(join(dir, 'run.sh'), 0o755);
  const result: BuiltBundle = { dir, files: listFiles(dir) };
  if (opts.compress !== false) {
    const archive = join(outRoot, 'recurvid-gpu-check.tar.xz');
    rmSync(archive, { force: true });
    execFileSync('tar', ['-C', outRoot, '-cf', archive, '--use-compress-program=xz -T0 -6', 'gpu-check']);
    result.archive = archive;
    result.archiveBytes = statSync(archive).size;
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const out = resolve(args[args.indexOf('--out') + 1] && args.includes('--out') ? args[args.indexOf('--out') + 1]! : 'dist');
  const t0 = performance.now();
  const b = await buildGpuBundle(out, { compress: !args.includes('--no-compress'), cuda: !args.includes('--no-cuda') });
  const total = b.files.reduce((a, f) => a + f.bytes, 0);
  for (const f of b.files.filter((x) => x.bytes > 1e6)) console.log(`  ${f.path}: ${(f.bytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`bundle folder ${b.dir}: ${(total / 2 ** 20).toFixed(1)} MiB in ${b.files.length} files`);
  if (b.archive) {
    const ok = b.archiveBytes! <= BUNDLE_LIMIT_BYTES;
    console.log(`archive ${b.archive}: ${(b.archiveBytes! / 2 ** 20).toFixed(1)} MiB (limit 60 MiB: ${ok ? 'ok' : 'TOO BIG'}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    if (!ok) process.exitCode = 1;
  }
  console.log('On the GPU machine: tar -xJf recurvid-gpu-check.tar.xz && gpu-check/run.sh');
}
