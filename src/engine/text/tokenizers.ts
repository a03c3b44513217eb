// Tokenizers for both text encoders, run by @huggingface/tokenizers. LLaMA ships a tokenizer.json;
// the official CLIP folder (HunyuanVideo tokenizer_2) ships only vocab.json + merges.txt, so we
// assemble the same tokenizer.json transformers' fast CLIP converter would (NFC, whitespace
// squash, lowercase; CLIP's split regex; byte-level BPE with the `</w>` end-of-word suffix).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelSetError } from '../modelset/manifest.ts';

export interface TokenizerFiles {
  /** tokenizer.json content. */
  json: Record<string, unknown>;
  /** tokenizer_config.json content (may be empty). */
  config: Record<string, unknown>;
}

/** A tokenizer reduced to what the encoders need: ids with or without the model's special tokens. */
export class TextTokenizer {
  private readonly tok: Tokenizer;
  /** The same tokenizer without its added tokens: user text is never parsed into special ids. */
  private plainTok: Tokenizer | undefined;

  constructor(readonly files: TokenizerFiles) {
    this.tok = new Tokenizer(files.json, files.config);
  }

  encode(text: string, addSpecialTokens: boolean): number[] {
    return this.tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /**
   * Ids of `text` as ordinary text: a typed `<|eot_id|>` becomes the BPE pieces of those characters,
   * not the special id, so a user's prompt cannot close the template's turn or open a new header
   * (as transformers' split_special_tokens). Never adds BOS/EOS.
   */
  encodePlain(text: string): number[] {
    this.plainTok ??= new Tokenizer({ ...this.files.json, added_tokens: [] }, this.files.config);
    return this.plainTok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    return this.tok.decode(ids, { skip_special_tokens: false });
  }

  /** Id of a special token named by tokenizer_config (a string or `{ content }`). */
  specialId(key: string): number | undefined {
    const v = this.files.config[key];
    const content = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { content?: unknown }).content : undefined;
    return typeof content === 'string' ? this.tok.token_to_id(content) : undefined;
  }

  tokenId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** Loads `dir` holding tokenizer.json (+ tokenizer_config.json), or CLIP's vocab.json + merges.txt. */
export async function loadTokenizerFiles(dir: string): Promise<TokenizerFiles> {
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? await readJsonFile(configPath) : {};
  const mapPath = join(dir, 'special_tokens_map.json');
  if (existsSync(mapPath)) {
    // tokenizer_config wins; special_tokens_map fills what it lacks (as transformers merges them).
    for (const [k, v] of Object.entries(await readJsonFile(mapPath))) if (!(k in config)) config[k] = v;
  }
  if (existsSync(join(dir, 'tokenizer.json'))) return { json: await readJsonFile(join(dir, 'tokenizer.json')), config };
  if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) {
    const vocab = (await readJsonFile(join(dir, 'vocab.json'))) as Record<string, number>;
    const merges = parseMerges(await readFile(join(dir, 'merges.txt'), 'utf8'));
    return { json: clipTokenizerJson(vocab, merges, config), config };
  }
  throw new ModelSetError(`${dir} has no tokenizer.json (nor vocab.json + merges.txt).`);
}

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  return new TextTokenizer(await loadTokenizerFiles(dir));
}

/** merges.txt: an optional `#version` header, then one "a b" pair per line. */
export function parseMerges(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l && !l.startsWith('#version'));
}

function tokenContent(v: unknown, fallback: string): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return fallback;
}

/** CLIP's tokenizer.json from its slow-tokenizer files. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: string[], config: Record<string, unknown>): Record<string, unknown> {
  const bos = tokenContent(config.bos_token, '<|startoftext|>');
  const eos = tokenContent(config.eos_token, '<|endoftext|>');
  const unk = tokenContent(config.unk_token, '<|endoftext|>');
  const id = (t: string) => {
    const v = vocab[t];
    if (v === undefined) throw new ModelSetError(`CLIP vocab.json lacks the special token ${t}.`);
    return v;
  };
  const specials = [...new Set([bos, eos, unk, tokenContent(config.pad_token, eos)])];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true })),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [eos, id(eos)],
      cls: [bos, id(bos)],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/** GPT-2's reversible byte → printable character map used by byte-level BPE. */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = keep.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  return map;
}
