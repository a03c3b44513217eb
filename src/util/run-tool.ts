// Runs an external tool (ffmpeg, ffprobe) with a hard time limit: past it the child is killed
// (SIGKILL: a wedged decoder may ignore SIGTERM) and the caller gets a ToolTimeoutError that
// names the tool and the limit, instead of a job that never finishes. Optional stdin bytes
// (raw frames for ffmpeg), stdout collected, the tail of stderr kept for the error.
import { spawn } from 'node:child_process';
import { basename } from 'node:path';

export class ToolTimeoutError extends Error {
  constructor(
    readonly tool: string,
    readonly timeoutMs: number,
  ) {
    super(`${tool} did not finish within ${formatMs(timeoutMs)} and was stopped.`);
    this.name = 'ToolTimeoutError';
  }
}

export interface RunToolOptions {
  timeoutMs: number;
  /** Written to the child's stdin, which is then closed; stdin is ignored when omitted. */
  input?: Uint8Array;
  signal?: AbortSignal;
  /** The name used in errors (defaults to the binary's file name). */
  name?: string;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

export function runTool(command: string, args: string[], opts: RunToolOptions): Promise<ToolResult> {
  const name = opts.name ?? basename(command);
  return new Promise<ToolResult>((resolve, reject) => {
    const child = spawn(command, args, { stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'], signal: opts.signal });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new ToolTimeoutError(name, opts.timeoutMs));
      else if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${name} failed (${code ?? signal}): ${stderr.trim().slice(-500)}`));
    });
    if (opts.input) {
      child.stdin!.on('error', () => undefined); // a failing tool closes stdin; 'close' reports why
      child.stdin!.end(Buffer.from(opts.input.buffer, opts.input.byteOffset, opts.input.byteLength));
    }
  });
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
