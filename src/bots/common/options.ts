// Chat syntax for options: "seconds=10 seed=42 teacache=off model=f1" or "--seconds 10 --teacache off",
// anywhere in a message; the rest of the text is the prompt. What each name means, its range and
// its sentences live in the one option table (src/options); this file only finds the names in text.
import type { JobOptions } from '../../options/job-options.ts';
import { optionSpec, isSwitchWord, type OptionCaps, type RawValue } from '../../options/fields.ts';
import { resolveNamedValues } from '../../options/resolve.ts';

export interface ParsedAnimateText {
  prompt: string;
  options: JobOptions;
  /** The options the text named (by their main name), whether or not their value was accepted. */
  named: Set<string>;
  errors: string[];
}

const KEY_VALUE = /^([a-z][a-z_-]*)=(.*)$/i;
const FLAG = /^--([a-z][a-z_-]*)(?:=(.*))?$/i;

/** The option names and raw values in a message, and its other words (the prompt). */
export function splitOptionText(text: string): { words: string[]; values: Array<[name: string, value: RawValue | undefined]> } {
  const tokens = text.split(/\s+/).filter(Boolean);
  const words: string[] = [];
  const values: Array<[string, RawValue | undefined]> = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const kv = KEY_VALUE.exec(token);
    if (kv) {
      values.push([normalName(kv[1]!), kv[2]!]);
      continue;
    }
    const flag = FLAG.exec(token);
    if (!flag) {
      words.push(token);
      continue;
    }
    const name = normalName(flag[1]!);
    const next = tokens[i + 1];
    if (flag[2] !== undefined) values.push([name, flag[2]]);
    else if (optionSpec(name)?.kind === 'switch' && !isSwitchWord(next)) values.push([name, true]); // a bare "--teacache" switches it on
    else if (next !== undefined && !FLAG.test(next)) values.push([name, tokens[++i]!]);
    else values.push([name, undefined]);
  }
  return { words, values };
}

export function parseAnimateText(text: string, caps: OptionCaps, base: Partial<JobOptions> = {}): ParsedAnimateText {
  const { words, values } = splitOptionText(text);
  const prompt = words.join(' ').trim();
  return { prompt, ...resolveNamedValues(values, caps, base, prompt ? { prompt } : {}) };
}

/** "end-strength" and "end_strength" are the same option (flags are often written with dashes). */
function normalName(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}
