// The prompt helper: one image in, one concise motion prompt out, from any OpenAI-compatible
// vision chat endpoint (OpenAI, gateways, Ollama, LM Studio, vLLM) through the official client.
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import type { Keyv } from 'keyv';
import type { Logger } from '../log.ts';
import { cleanPromptAnswer } from './clean.ts';
import { imageDataUrl } from './image.ts';
import { toPromptHelperError } from './errors.ts';
import { MOTION_PROMPT_TEMPLATE, TEMPLATE_VERSION } from './template.ts';
import { PromptHelperError, type PromptHelper, type SuggestOptions } from './types.ts';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
const DEFAULT_CACHE_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export interface PromptHelperOptions {
  /** Any OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1 for Ollama. Default: OpenAI. */
  baseUrl?: string;
  /** Optional for local servers; the helper counts as configured when baseUrl or apiKey is set. */
  apiKey?: string;
  /** A vision-capable chat model. */
  model: string;
  /** The whole suggestion, retry included, must finish within this time. */
  timeoutMs: number;
  /** Suggestions keyed by the image's sha256 and the model. */
  cache?: Keyv;
  cacheTtlMs?: number;
  log?: Logger;
}

export function createPromptHelper(options: PromptHelperOptions): PromptHelper {
  const configured = Boolean(options.baseUrl || options.apiKey);
  if (!configured) {
    return {
      configured: false,
      suggest: () => Promise.reject(new PromptHelperError('not_configured', 'The prompt helper is not configured.')),
    };
  }

  const client = new OpenAI({
    // Everything explicit, so stray OPENAI_* environment variables cannot redirect requests.
    baseURL: options.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
    apiKey: options.apiKey ?? 'unused',
    organization: null,
    project: null,
    // Keyless local servers get no Authorization header at all.
    defaultHeaders: options.apiKey ? undefined : { Authorization: null },
    timeout: options.timeoutMs,
    // One retry on 429/5xx; the client waits as Retry-After says (checked in the tests).
    maxRetries: 1,
    fetch: skipHopelessRetries(options.timeoutMs),
  });

  const ask = async (image: Buffer, signal: AbortSignal): Promise<string> => {
    const completion = await client.chat.completions.create(
      {
        model: options.model,
        messages: [
          { role: 'system', content: MOTION_PROMPT_TEMPLATE },
          { role: 'user', content: [{ type: 'image_url', image_url: { url: await imageDataUrl(image) } }] },
        ],
      },
      { signal },
    );
    const choice = completion.choices[0];
    if (!choice || choice.message.refusal || choice.finish_reason === 'content_filter') {
      throw new PromptHelperError('refused', 'The prompt helper did not suggest a prompt for this image. Please write one yourself.');
    }
    return cleanPromptAnswer(choice.message.content);
  };

  return {
    configured: true,
    async suggest(image: Buffer, opts: SuggestOptions = {}): Promise<string> {
      const variant = opts.variant ?? 0;
      const key = variant > 0 ? `${cacheKey(image, options.model)}:alt${variant}` : cacheKey(image, options.model);
      if (!opts.fresh && options.cache) {
        const hit = await options.cache.get<string>(key).catch((err: unknown) => {
          options.log?.warn({ err: String(err) }, 'prompt helper cache read failed');
          return undefined;
        });
        if (typeof hit === 'string' && hit) return hit;
      }

      const deadline = AbortSignal.timeout(options.timeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
      let prompt: string;
      try {
        prompt = await untilAborted(ask(image, signal), signal);
      } catch (err) {
        const mapped = toPromptHelperError(err, {
          timedOut: deadline.aborted && !opts.signal?.aborted,
          cancelled: Boolean(opts.signal?.aborted),
          model: options.model,
        });
        options.log?.warn({ code: mapped.code, detail: err instanceof Error ? err.message.slice(0, 300) : String(err) }, 'prompt helper failed');
        throw mapped;
      }

      await options.cache?.set(key, prompt, options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS).catch((err: unknown) => {
        options.log?.warn({ err: String(err) }, 'prompt helper cache write failed');
      });
      return prompt;
    },
  };
}

/** sha256 of the image bytes, scoped by model and template version. */
export function cacheKey(image: Buffer, model: string): string {
  const digest = createHash('sha256').update(image).digest('hex');
  return `prompt-helper:v${TEMPLATE_VERSION}:${model}:${digest}`;
}

/**
 * The client's retry sleep cannot be interrupted, so a Retry-After longer than our whole time
 * budget would keep the process waiting for nothing. Such answers are marked not retryable.
 */
function skipHopelessRetries(budgetMs: number): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.ok) return response;
    const waitMs = retryAfterMs(response.headers);
    if (waitMs === undefined || waitMs < budgetMs) return response;
    const headers = new Headers(response.headers);
    headers.set('x-should-retry', 'false');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms)) return ms;
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? date - Date.now() : undefined;
}

/** Rejects as soon as the signal fires, even while the client sleeps between retries. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined); // its late rejection after an abort is expected
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
