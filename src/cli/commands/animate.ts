// `recurvid animate <image>`: runs the FramePack engine locally with a terminal progress bar and
// writes out/<timestamp>.mp4 plus each section's video and the last latent preview of each section.
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { createFramePackEngine } from '../../engine/framepack.ts';
import { readManifest } from '../../engine/modelset/manifest.ts';
import { makeTinyModelSet } from '../../engine/conversion/tiny.ts';
import type { ExecutionProvider } from '../../engine/runtime/session.ts';
import {
  ANIMATE_LIMITS, CACHE_MODES, END_FRAME_STRENGTH, EngineCancelledError, MODEL_VARIANTS, defaultAnimateOptions,
  type CacheMode, type EngineEvent, type ModelVariant,
} from '../../engine/types.ts';
import { directionFor } from '../../engine/direction/index.ts';
import { plannedMemoryBudget } from '../../startup.ts';

interface AnimateFlags {
  prompt: string;
  seconds: number;
  seed: number;
  steps: number;
  teacache: boolean;
  model: ModelVariant;
  cache?: CacheMode;
  endImage?: string;
  endStrength?: number;
  models: string;
  out: string;
  provider?: ExecutionProvider;
  resolution?: number;
  keepWarm?: boolean;
}

function bounded(name: string, min: number, max: number, parse: (v: string) => number) {
  return (v: string): number => {
    const n = parse(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be between ${min} and ${max} (got ${v}).`);
    return n;
  };
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

export function register(program: Command): void {
  program
    .command('animate')
    .description('animate one image into a short video with FramePack, locally')
    .argument('<image>', 'the start image (png, jpg, webp, …)')
    .option('--prompt <text>', 'motion prompt', '')
    .option('--seconds <n>', 'video length in seconds', bounded('seconds', ANIMATE_LIMITS.seconds.min, ANIMATE_LIMITS.seconds.max, Number), 5)
    .option('--seed <n>', 'random seed', bounded('seed', 0, ANIMATE_LIMITS.seed.max, (v) => Number.parseInt(v, 10)), 31337)
    .option('--steps <n>', 'sampling steps per section', bounded('steps', 1, 100, (v) => Number.parseInt(v, 10)), 25)
    .option('--teacache', 'use TeaCache (default)', true)
    .option('--no-teacache', 'disable TeaCache')
    .addOption(new Option('--cache <mode>', 'block cache (overrides --teacache)').choices([...CACHE_MODES]))
    .addOption(new Option('--model <name>', 'original (inverted sampling) or f1 (forward; needs the F1 transformer)').choices([...MODEL_VARIANTS]).default('original'))
    .option('--end-image <file>', 'the video ends on this image (original model only)')
    .option('--end-strength <n>', 'end image influence', bounded('end-strength', END_FRAME_STRENGTH.min, END_FRAME_STRENGTH.max, Number))
    .option('--models <dir>', 'model set folder', 'models/tiny')
    .option('--out <dir>', 'output folder', 'out')
    .addOption(new Option('--provider <name>', 'execution provider (default: EXECUTION_PROVIDER, else cpu)').choices(['cpu', 'cuda', 'webgpu']))
    .option('--resolution <n>', 'bucket resolution (default BUCKET_RESOLUTION, else 640; 128 for the tiny set)', (v) => Number.parseInt(v, 10))
    .action(async (imageArg: string, flags: AnimateFlags) => {
      const config = loadConfig(); // validated defaults (EXECUTION_PROVIDER, MEMORY_BUDGET_GB)
      const image = resolve(imageArg);
      if (!existsSync(image)) throw new Error(`No image at ${image}.`);
      if (!existsSync(join(flags.models, 'manifest.json'))) {
        if (basename(resolve(flags.models)) !== 'tiny') throw new Error(`No model set at ${flags.models}. Convert one with \`recurvid convert\`, or use --models models/tiny.`);
        process.stdout.write(`Building the tiny model set in ${flags.models} (first use, a few seconds)…\n`);
        await makeTinyModelSet(flags.models, { seed: 0 });
      }
      const manifest = await readManifest(flags.models);
      if (manifest.tiny) {
        process.stdout.write('Note: the tiny model set has random weights, so the video is noise. The pipeline, files and timings are the real ones.\n');
      }
      const options = defaultAnimateOptions({
        prompt: flags.prompt, seconds: flags.seconds, seed: flags.seed, steps: flags.steps, teacache: flags.teacache, previews: true,
        ...(flags.model !== 'original' ? { model: flags.model } : {}),
        ...(flags.cache ? { cache: flags.cache } : {}),
        ...(flags.endStrength !== undefined ? { endFrameStrength: flags.endStrength } : {}),
      });
      const endImage = flags.endImage ? resolve(flags.endImage) : undefined;
      if (endImage && !existsSync(endImage)) throw new Error(`No end image at ${endImage}.`);
      if (endImage && flags.model === 'f1') throw new Error('--end-image works only with --model original: F1 samples forward and has no end frame.');
      const provider = flags.provider ?? config.EXECUTION_PROVIDER;
      const memory = plannedMemoryBudget(config, provider);
      process.stdout.write(`Memory budget ${memory.budgetGb} GB: ${memory.source}.\n`);
      const engine = await createFramePackEngine({
        modelDir: flags.models, provider,
        memoryBudgetGb: memory.budgetGb,
        ...(flags.resolution ? { resolution: flags.resolution } : config.BUCKET_RESOLUTION !== undefined ? { resolution: config.BUCKET_RESOLUTION } : {}),
      });
      process.stdout.write(`${engine.describe()}\n`);
      const stamp = timestamp();
      await mkdir(flags.out, { recursive: true });
      const workDir = join(flags.out, `.work-${stamp}`);
      const sections = directionFor(flags.model).planSections(options.seconds, options.windowSize).length;
      const bar = new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {stage} | section {section}/{sections} step {step}/{steps} | {eta_formatted} left', hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(sections * options.steps, 0, { stage: 'starting', section: 0, sections, step: 0, steps: options.steps });
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      let lastPreview: Buffer | undefined;
      const onEvent = async (e: EngineEvent): Promise<void> => {
        if (e.type === 'stage') bar.update({ stage: e.detail ? `${e.stage} ${e.detail}` : e.stage });
        else if (e.type === 'step') {
          lastPreview = e.previewPng;
          bar.update((e.section - 1) * e.steps + e.step, { section: e.section, step: e.step });
        } else if (e.type === 'section') {
          const prefix = join(flags.out, `${stamp}_section${e.section}`);
          await copyFile(e.videoPath, `${prefix}.mp4`);
          if (lastPreview) await writeFile(`${prefix}_preview.png`, lastPreview);
        }
      };
      const pending: Array<Promise<void>> = [];
      try {
        const result = await engine.run({ imagePath: image, ...(endImage ? { endImagePath: endImage } : {}), workDir, options, signal: ac.signal, onEvent: (e) => void pending.push(onEvent(e)) });
        await Promise.all(pending);
        bar.stop();
        const finalPath = join(flags.out, `${stamp}.mp4`);
        await copyFile(result.videoPath, finalPath);
        await rm(workDir, { recursive: true, force: true }); // resume data is only useful while unfinished
        const t = result.timings;
        process.stdout.write(
          `Wrote ${finalPath}: ${result.frames} frames, ${result.seconds.toFixed(2)} s at 30 fps` +
            ` (total ${((t.total ?? 0) / 1000).toFixed(1)} s; sampling ${((t.sampling ?? 0) / 1000).toFixed(1)} s, decoding ${((t.decoding ?? 0) / 1000).toFixed(1)} s).\n` +
            (result.bytesWritten !== undefined ? `Wrote ${(result.bytesWritten / 2 ** 20).toFixed(1)} MiB in the work folder; the largest checkpoint was ${((result.checkpointBytes ?? 0) / 2 ** 20).toFixed(2)} MiB.\n` : '') +
            `Section videos and previews: ${join(flags.out, `${stamp}_section*`)}.\n` +
            (manifest.tiny ? 'Reminder: tiny models produce noise.\n' : ''),
        );
      } catch (err) {
        bar.stop();
        if (err instanceof EngineCancelledError) {
          process.stdout.write(`Cancelled. Finished sections stay in ${workDir}.\n`);
          process.exitCode = 130;
          return;
        }
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
        await engine.close();
      }
    });
}
