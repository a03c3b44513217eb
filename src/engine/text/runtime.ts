// FramePack's encode_prompt_conds on onnxruntime: the LLaMA vector (hidden_states[-3], template
// tokens cropped) and the CLIP-L pooled vector for one prompt.
import { join } from 'node:path';
import { ModelSetError, readManifest, type ComponentManifest, type ComponentName } from '../modelset/manifest.ts';
import { createSession, ort, type ExecutionProvider } from '../runtime/session.ts';
import { clipInput, computeCropStart, llamaInput, CLIP_MAX_LENGTH, LLAMA_MAX_PROMPT_TOKENS } from './prompt.ts';
import { loadTokenizer, type TextTokenizer } from './tokenizers.ts';
import type { Tensor } from './tensor.ts';

export type { Tensor } from './tensor.ts';

type Session = Awaited<ReturnType<typeof createSession>>;

export function requireComponent(components: Partial<Record<ComponentName, ComponentManifest>>, name: ComponentName, dir: string): ComponentManifest {
  const c = components[name];
  if (!c) throw new ModelSetError(`The model set at ${dir} has no ${name} component; convert it again.`);
  return c;
}

function fileOf(c: ComponentManifest, role: string, dir: string): string {
  const f = c.files[role];
  if (!f) throw new ModelSetError(`The ${c.component} entry of ${dir}/manifest.json has no "${role}" file.`);
  return join(dir, f);
}

/** The tokenizer folder of a manifest entry (`files.dir`, else the folder of its first file). */
function tokenizerDir(c: ComponentManifest, dir: string): string {
  const d = c.files.dir ?? Object.values(c.files)[0]?.split('/')[0];
  if (!d) throw new ModelSetError(`The ${c.component} entry of ${dir}/manifest.json lists no files.`);
  return join(dir, d);
}

const i64 = (ids: number[]) => new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]);

export class TextConditioner {
  private constructor(
    private readonly llama: Session,
    private readonly clip: Session,
    private readonly llamaTok: TextTokenizer,
    private readonly clipTok: TextTokenizer,
    /** Template tokens before the prompt, computed from the tokenizer. */
    readonly cropStart: number,
    readonly maxPromptTokens: number,
    readonly clipMaxLength: number,
  ) {}

  static async load(modelSetDir: string, opts: { provider?: ExecutionProvider } = {}): Promise<TextConditioner> {
    const m = await readManifest(modelSetDir);
    const te = requireComponent(m.components, 'text_encoder', modelSetDir);
    const te2 = requireComponent(m.components, 'text_encoder_2', modelSetDir);
    const llamaTok = await loadTokenizer(tokenizerDir(requireComponent(m.components, 'tokenizer', modelSetDir), modelSetDir));
    const clipTok = await loadTokenizer(tokenizerDir(requireComponent(m.components, 'tokenizer_2', modelSetDir), modelSetDir));
    const provider = opts.provider ?? 'cpu';
    const llama = await createSession(fileOf(te, 'model', modelSetDir), { provider });
    const clip = await createSession(fileOf(te2, 'model', modelSetDir), { provider });
    const maxPrompt = typeof te.extra?.max_prompt_tokens === 'number' ? te.extra.max_prompt_tokens : LLAMA_MAX_PROMPT_TOKENS;
    const clipMax = typeof te2.extra?.max_length === 'number' ? te2.extra.max_length : CLIP_MAX_LENGTH;
    return new TextConditioner(llama, clip, llamaTok, clipTok, computeCropStart(llamaTok), maxPrompt, clipMax);
  }

  async encode(prompt: string): Promise<{ llamaVec: Tensor; clipPooled: Tensor; truncated: boolean }> {
    const li = llamaInput(this.llamaTok, prompt, this.cropStart, this.maxPromptTokens);
    // FramePack pads to max_length with a mask; with right padding and a causal model the real
    // tokens' states do not depend on the padding, so we run only the real tokens.
    const n = li.ids.length;
    const out = await this.llama.run({ input_ids: i64(li.ids), attention_mask: i64(new Array<number>(n).fill(1)) });
    const hs = out.hidden_state!;
    const hidden = hs.dims[2]!;
    const kept = n - li.cropStart;
    const llamaVec: Tensor = { data: (hs.data as Float32Array).slice(li.cropStart * hidden, n * hidden), dims: [1, kept, hidden] };

    const ci = clipInput(this.clipTok, prompt, this.clipMaxLength);
    const pooled = (await this.clip.run({ input_ids: i64(ci.ids) })).pooler_output!;
    const clipPooled: Tensor = { data: (pooled.data as Float32Array).slice(), dims: [...pooled.dims] };
    return { llamaVec, clipPooled, truncated: li.truncated || ci.truncated };
  }

  async close(): Promise<void> {
    await this.llama.release();
    await this.clip.release();
  }
}
