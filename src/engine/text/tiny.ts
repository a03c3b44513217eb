// Tiny, official-format stand-ins so the whole pipeline runs on a CPU in seconds: small BPE
// tokenizers trained here on the prompt template (real file formats), and seeded random weights
// in the official key layout. Dimensions match the tiny transformer (text 32, pooled 16, image 24).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../safetensors.ts';
import { bytesToUnicode } from './tokenizers.ts';
import { HUNYUAN_PROMPT_TEMPLATE } from './prompt.ts';
import { seededNormal } from '../seeded-random.ts';

export const TINY_DIMS = { llamaHidden: 32, clipHidden: 16, siglipHidden: 24 } as const;

const CORPUS =
  HUNYUAN_PROMPT_TEMPLATE.replace('{}', '') +
  ' The girl dances gracefully, with clear movements, full of charm. A cat walks slowly across the room. ' +
  'The man smiles and waves at the camera while the wind moves his hair. 0123456789';

const LLAMA_SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
const LLAMA_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Greedy BPE training: repeatedly merges the most frequent adjacent pair (ties: first in order). */
export function trainBpe(words: string[][], count: number): Array<[string, string]> {
  const merges: Array<[string, string]> = [];
  const ws = words.map((w) => [...w]);
  for (let m = 0; m < count; m++) {
    const freq = new Map<string, number>();
    for (const w of ws) for (let i = 0; i + 1 < w.length; i++) {
      const key = `${w[i]}\u0000${w[i + 1]}`;
      freq.set(key, (freq.get(key) ?? 0) + 1);
    }
    let best = '';
    let bestN = 1; // only merge pairs seen at least twice
    for (const [k, n] of freq) if (n > bestN) { best = k; bestN = n; }
    if (!best) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const w of ws) for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
  }
  return merges;
}

function byteChars(text: string): string[] {
  const map = bytesToUnicode();
  return [...Buffer.from(text, 'utf8')].map((b) => map[b]!);
}

/** A Llama-3-style byte-level BPE tokenizer.json + tokenizer_config.json. */
export function tinyLlamaTokenizer(): { json: Record<string, unknown>; config: Record<string, unknown>; vocabSize: number } {
  const text = CORPUS.replace(/<\|[a-z_]+\|>/g, ' ');
  const words = (text.match(/ ?\p{L}+|\p{N}|\s+|[^\s\p{L}\p{N}]+/gu) ?? []).map(byteChars);
  const merges = trainBpe(words, 160);
  const vocab: Record<string, number> = {};
  for (const [i, c] of bytesToUnicode().entries()) vocab[c] = i;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  const base = Object.keys(vocab).length;
  const added = LLAMA_SPECIALS.map((content, i) => ({ id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [base], tokens: ['<|begin_of_text|>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config = {
    bos_token: '<|begin_of_text|>',
    eos_token: '<|end_of_text|>',
    model_max_length: 131072,
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: true,
  };
  return { json, config, vocabSize: base + LLAMA_SPECIALS.length };
}

/** CLIP's slow-tokenizer files: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json. */
export function tinyClipTokenizer(): { vocab: Record<string, number>; merges: string; config: Record<string, unknown>; specialMap: Record<string, unknown>; vocabSize: number } {
  const words = (CORPUS.replace(/<\|[a-z_]+\|>/g, ' ').toLowerCase().match(/\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu) ?? []).map((w) => {
    const chars = byteChars(w);
    chars[chars.length - 1] += '</w>';
    return chars;
  });
  const merges = trainBpe(words, 120);
  const map = bytesToUnicode();
  const vocab: Record<string, number> = {};
  for (const [i, c] of map.entries()) vocab[c] = i;
  for (const [i, c] of map.entries()) vocab[`${c}</w>`] = 256 + i;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  vocab['<|startoftext|>'] = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = Object.keys(vocab).length;
  const special = { content: '', lstrip: false, normalized: true, rstrip: false, single_word: false };
  const config = {
    bos_token: { ...special, content: '<|startoftext|>' },
    eos_token: { ...special, content: '<|endoftext|>' },
    pad_token: '<|endoftext|>',
    unk_token: { ...special, content: '<|endoftext|>' },
    model_max_length: 77,
    do_lower_case: true,
    tokenizer_class: 'CLIPTokenizer',
  };
  const specialMap = { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' };
  const mergesTxt = `${['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n')}\n`;
  return { vocab, merges: mergesTxt, config, specialMap, vocabSize: Object.keys(vocab).length };
}

/**
 * Seeded weights with the golden sets' recipe: embeddings 0.5·N, matrices N(0, 1/fan_in),
 * 1-D `weight` (norm scales) 1 + 0.1·N, biases (and other 1-D) 0.02·N.
 */
export async function writeTinyWeights(path: string, shapes: Record<string, number[]>, seed: number): Promise<void> {
  const normal = seededNormal(seed);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of Object.keys(shapes).sort()) {
    const shape = shapes[name]!;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const fanIn = n / shape[0]!;
    const isEmbedding = /embed_tokens|embedding\.weight|probe/.test(name);
    for (let i = 0; i < n; i++) {
      const z = normal();
      data[i] = isEmbedding ? 0.5 * z : shape.length >= 2 ? z / Math.sqrt(fanIn) : name.endsWith('.weight') ? 1 + 0.1 * z : 0.02 * z;
    }
    tensors[name] = { dtype: 'F32', shape, data: new Uint8Array(data.buffer) };
  }
  await writeSafetensors(path, tensors);
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Official key layout of one pre-LN CLIP/SigLIP encoder layer. */
export function clipLayerShapes(prefix: string, hidden: number, inter: number): Record<string, number[]> {
  const s: Record<string, number[]> = {};
  for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
    s[`${prefix}.self_attn.${p}.weight`] = [hidden, hidden];
    s[`${prefix}.self_attn.${p}.bias`] = [hidden];
  }
  for (const n of ['layer_norm1', 'layer_norm2']) {
    s[`${prefix}.${n}.weight`] = [hidden];
    s[`${prefix}.${n}.bias`] = [hidden];
  }
  s[`${prefix}.mlp.fc1.weight`] = [inter, hidden];
  s[`${prefix}.mlp.fc1.bias`] = [inter];
  s[`${prefix}.mlp.fc2.weight`] = [hidden, inter];
  s[`${prefix}.mlp.fc2.bias`] = [hidden];
  return s;
}
