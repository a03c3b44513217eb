// `recurvid doctor`: what is present and what is missing. Secrets are reported as set / not set only.
import type { Command } from 'commander';
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, SECRET_KEYS, type Config } from '../../config.ts';
import { resolveFfmpeg } from '../../util/ffmpeg.ts';
import { availableProviders, defaultIntraOpThreads, physicalCores } from '../../engine/runtime/session.ts';
import { formatMemory, modelSetMemory } from '../../engine/conversion/memory.ts';
import { readManifest } from '../../engine/modelset/manifest.ts';
import { inspectScaleOut } from '../../queue/bullmq/inspect.ts';

export interface DoctorLine {
  ok: boolean;
  label: string;
  detail: string;
  /** Not an error on its own (e.g. one of the two bot tokens): printed as "off", not "MISSING". */
  optional?: boolean;
}

/** Which bots `npm start` would start; at least one token is needed. */
export function botLines(config: Pick<Config, 'DISCORD_TOKEN' | 'TELEGRAM_TOKEN'>): DoctorLine[] {
  const bots = [
    { key: 'DISCORD_TOKEN', name: 'Discord', set: !!config.DISCORD_TOKEN },
    { key: 'TELEGRAM_TOKEN', name: 'Telegram', set: !!config.TELEGRAM_TOKEN },
  ] as const;
  const starting = bots.filter((b) => b.set).map((b) => b.name);
  const lines: DoctorLine[] = bots.map((b) => ({
    ok: b.set,
    optional: true,
    label: b.key,
    detail: b.set ? `set (the ${b.name} bot starts)` : `not set (the ${b.name} bot does not start)`,
  }));
  lines.push({
    ok: starting.length > 0,
    label: 'bots',
    detail: starting.length
      ? `\`npm start\` starts the ${starting.join(' and ')} bot${starting.length > 1 ? 's' : ''}`
      : '`npm start` needs at least one bot token: set DISCORD_TOKEN and/or TELEGRAM_TOKEN (see .env.example)',
  });
  return lines;
}

export function formatDoctorLine(l: DoctorLine): string {
  const mark = l.ok ? 'ok     ' : l.optional ? 'off    ' : 'MISSING';
  return `${mark}  ${l.label.padEnd(22)} ${l.detail}`;
}

/** Lines that are neither ok nor optional: what `npm start` or a job would fail on. */
export function missingLines(lines: readonly DoctorLine[]): DoctorLine[] {
  return lines.filter((l) => !l.ok && !l.optional);
}

/** 0 when everything needed is there, 1 when a MISSING line was printed (2 stays a configuration error). */
export function doctorExitCode(lines: readonly DoctorLine[]): 0 | 1 {
  return missingLines(lines).length > 0 ? 1 : 0;
}

export async function doctorReport(config: Config): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  lines.push({ ok: major >= 20, label: 'Node.js', detail: `${process.versions.node}${major >= 20 ? '' : ' (RecurVid needs 20 or newer)'}` });

  try {
    const ff = await resolveFfmpeg(config.FFMPEG_PATH);
    lines.push({ ok: true, label: 'ffmpeg', detail: `${ff.path} (from ${ff.source}; libx264 yes) ${ff.version}` });
  } catch (err) {
    lines.push({ ok: false, label: 'ffmpeg', detail: (err as Error).message });
  }

  const providers = availableProviders();
  const wanted = config.EXECUTION_PROVIDER;
  const have = providers.find((p) => p.name === wanted);
  lines.push({
    ok: !!have,
    label: 'onnxruntime',
    detail:
      `providers: ${providers.map((p) => `${p.name}${p.bundled ? '' : ' (needs install)'}`).join(', ')}; configured: ${wanted}; intra-op threads: ${config.ORT_THREADS ?? `${defaultIntraOpThreads()} (default for ${physicalCores()} physical cores)`}` +
      (wanted === 'cuda' ? ' (install with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node)' : ''),
  });

  const sets = existsSync(config.MODELS_DIR) ? await readdir(config.MODELS_DIR) : [];
  const found: string[] = [];
  const memory: string[] = [];
  for (const s of sets) {
    try {
      const m = await readManifest(join(config.MODELS_DIR, s));
      found.push(`${s}${m.tiny ? ' (tiny, noise only)' : ''}: ${Object.keys(m.components).join(', ')}`);
      if (s === config.MODEL_SET) memory.push(...formatMemory(await modelSetMemory(join(config.MODELS_DIR, s), m)));
    } catch {
      /* not a model set */
    }
  }
  lines.push({
    ok: found.some((f) => f.startsWith(`${config.MODEL_SET}`)),
    label: 'model sets',
    detail: found.length
      ? `${found.join('; ')} — configured MODEL_SET=${config.MODEL_SET}`
      : `none in ${config.MODELS_DIR}/ (run \`npx recurvid models tiny\`, or \`npx recurvid models pull\` for the real weights)`,
  });
  if (memory.length) lines.push({ ok: true, label: 'weights once loaded', detail: `${config.MODEL_SET}, per mode:\n${memory.join('\n')}` });

  lines.push(...botLines(config));
  for (const key of SECRET_KEYS) {
    if (key === 'DISCORD_TOKEN' || key === 'TELEGRAM_TOKEN') continue;
    lines.push({ ok: true, label: key, detail: config[key] ? 'set' : 'not set' });
  }
  lines.push({
    ok: true,
    label: 'prompt helper',
    detail: config.PROMPT_HELPER_API_KEY || config.PROMPT_HELPER_BASE_URL ? `configured (model ${config.PROMPT_HELPER_MODEL})` : 'not configured (the default motion prompt is used)',
  });
  lines.push({ ok: true, label: 'job store', detail: config.REDIS_URL ? 'Redis (REDIS_URL)' : `SQLite file in ${config.DATA_DIR}/` });
  lines.push(...(await queueBackendLines(config)));
  return lines;
}

/** Queue backend, Redis reachability and, in scale-out mode, the GPU workers BullMQ sees. */
async function queueBackendLines(config: Config): Promise<DoctorLine[]> {
  const bullmq = config.QUEUE_BACKEND === 'bullmq';
  const lines: DoctorLine[] = [{
    ok: !bullmq || !!config.REDIS_URL,
    label: 'queue backend',
    detail: bullmq
      ? `bullmq (scale-out: bots submit to Redis, \`recurvid worker\` processes run jobs)${config.REDIS_URL ? '' : ' — REDIS_URL is not set'}`
      : 'embedded (this machine: p-queue scheduler + one engine worker process)',
  }];
  if (!config.REDIS_URL) return lines;
  const report = await inspectScaleOut(config.REDIS_URL);
  lines.push({ ok: report.reachable, label: 'redis', detail: report.reachable ? `reachable (${report.detail})` : `not reachable: ${report.detail}` });
  if (bullmq && report.reachable) {
    lines.push({
      ok: report.workers.length > 0,
      label: 'gpu workers',
      detail: report.workers.length
        ? `${report.workers.length} seen: ${report.workers.join(', ')}; ${report.activeJobs} active job(s)`
        : `none seen on the queue (start \`recurvid worker\` on each GPU machine); ${report.activeJobs} active job(s)`,
    });
  }
  return lines;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('report what is installed, configured and missing')
    .action(async () => {
      const lines = await doctorReport(loadConfig());
      for (const l of lines) process.stdout.write(`${formatDoctorLine(l)}\n`);
      const missing = missingLines(lines);
      if (missing.length) process.stdout.write(`\n${missing.length} needed item${missing.length > 1 ? 's are' : ' is'} missing: ${missing.map((l) => l.label).join(', ')}.\n`);
      // Scripts and health checks (`recurvid doctor && npm start`) read the exit status, not the text.
      process.exitCode = doctorExitCode(lines);
    });
}
