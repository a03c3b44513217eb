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
import { EngineCancelledError, type EngineEvent } from '../../engine/types.ts';
import { FRAMEPACK_CAPS, NAMED_OPTIONS, type RawValue } from '../../options/fields.ts';
import { resolveNamedValues } from '../../options/resolve.ts';
import { combinationErrors } from '../../options/rules.ts';
import { directionFor } from '../../engine/direction/index.ts';
import { plannedMemoryBudget } from '../../startup.ts';

interface AnimateFlags {
  endImage?: string;
  models: string;
  out: string;
  provider?: ExecutionProvider;
  resolution?: number;
  /** The job options, by the camel-cased names of the option table (`--end-strength` → endStrength). */
  [option: string]: unknown;
}

/** `end_strength` → `--end-strength` and the key commander stores it under. */
function flagOf(name: string): { flag: string; key: string } {
  return { flag: name.replace(/_/g, '-'), key: name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) };
}

/** Every option of the table as a flag; values are checked by the table, with the sentences the chats use. */
function addJobOptionFlags(command: Command): Command {
  for (const spec of NAMED_OPTIONS) {
    const { flag } = flagOf(spec.name!);
    const help = spec.help(FRAMEPACK_CAPS);
    if (spec.kind === 'switch' || spec.kind === 'flag') command.option(`--${flag}`, help).option(`--no-${flag}`, `${spec.label} off`);
    else if (spec.kind === 'choice') command.addOption(new Option(`--${flag} <value>`, help).choices([...spec.choices(FRAMEPACK_CAPS)]));
    else command.option(`--${flag} <value>`, help);
  }
  return command;
}

function jobOptionsFrom(flags: AnimateFlags, hasEndImage: boolean) {
  const given: Array<[string, RawValue]> = [];
  for (const spec of NAMED_OPTIONS) {
    const value = flags[flagOf(spec.name!).key];
    if (typeof value === 'string' || typeof value === 'boolean') given.push([spec.name!, value]);
  }
  const { options, errors } = resolveNamedValues(given, FRAMEPACK_CAPS);
  const refused = [...errors, ...combinationErrors(options, { endImage: hasEndImage })];
  if (refused.length > 0) throw new Error(refused.join(' '));
  return options;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

export function register(program: Command): void {
  const command = program
    .command('animate')
    .description('animate one image into a short video with FramePack, locally')
    .argument('<image>', 'the start image (png, jpg, webp, …)')
    .option('--end-image <file>', 'the video ends on this image (original model only)')
    .option('--models <dir>', 'model set folder', 'models/tiny')
    .option('--out <dir>', 'output folder', 'out')
    .addOption(new Option('--provider <name>', 'execution provider (default: EXECUTION_PROVIDER, else cpu)').choices(['cpu', 'cuda', 'webgpu']))
    .option('--resolution <n>', 'bucket resolution (default BUCKET_RESOLUTION, else 640; 128 for the tiny set)', (v) => Number.parseInt(v, 10));
  addJobOptionFlags(command)
    .action(async (imageArg: string, flags: AnimateFlags) => {
      const config = loadConfig(); // validated defaults (EXECUTION_PROVIDER, MEMORY_BUDGET_GB)
      // Refusals first: a wrong option or a missing file says so before any model set is built or read.
      const options = jobOptionsFrom(flags, flags.endImage !== undefined);
      const image = resolve(imageArg);
      if (!existsSync(image)) throw new Error(`No image at ${image}.`);
      const endImage = flags.endImage ? resolve(flags.endImage) : undefined;
      if (endImage && !existsSync(endImage)) throw new Error(`No end image at ${endImage}.`);
      if (!existsSync(join(flags.models, 'manifest.json'))) {
        if (basename(resolve(flags.models)) !== 'tiny') throw new Error(`No model set at ${flags.models}. Convert one with \`recurvid convert\`, or use --models models/tiny.`);
        process.stdout.write(`Building the tiny model set in ${flags.models} (first use, a few seconds)…\n`);
        await makeTinyModelSet(flags.models, { seed: 0 });
      }
      const manifest = await readManifest(flags.models);
      if (manifest.tiny) {
        process.stdout.write('Note: the tiny model set has random weights, so the video is noise. The pipeline, files and timings are the real ones.\n');
      }
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
      const sections = directionFor(options.model).planSections(options.seconds, options.windowSize).length;
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
