import { describe, expect, it } from 'vitest';
import { cleanPromptAnswer, MAX_PROMPT_CHARS } from '../../src/prompting/clean.ts';
import { PromptHelperError } from '../../src/prompting/types.ts';

describe('cleanPromptAnswer', () => {
  it('keeps a plain prompt as-is', () => {
    expect(cleanPromptAnswer('  The man dances powerfully, with clear movements, full of energy.  ')).toBe(
      'The man dances powerfully, with clear movements, full of energy.',
    );
  });

  it('strips labels, quotes, markdown and code fences, keeping the first line', () => {
    expect(cleanPromptAnswer('Prompt: "The girl dances gracefully."')).toBe('The girl dances gracefully.');
    expect(cleanPromptAnswer('“The robot jumps and spins.”')).toBe('The robot jumps and spins.');
    expect(cleanPromptAnswer('**Motion prompt:**\n\n*The horse gallops across the field.*\n\nWhy: it is dynamic.')).toBe(
      'The horse gallops across the field.',
    );
    expect(cleanPromptAnswer('```\nThe camera pans as the dancer leaps.\n```')).toBe('The camera pans as the dancer leaps.');
    expect(cleanPromptAnswer('- The boy runs and jumps.')).toBe('The boy runs and jumps.');
    expect(cleanPromptAnswer('"The cat dances joyfully." (a lively choice)')).toBe('The cat dances joyfully.');
  });

  it('removes mentions and links', () => {
    expect(cleanPromptAnswer('The girl dances @everyone <@123456> with @bob, see https://evil.example/x www.spam.example now.')).toBe(
      'The girl dances with, see now.',
    );
  });

  it('caps the length at 300 characters on a word boundary', () => {
    const long = `The dancer ${'spins and leaps, '.repeat(40)}full of energy.`;
    const out = cleanPromptAnswer(long);
    expect(out.length).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
    expect(out.length).toBeGreaterThan(250);
    expect(long.startsWith(out)).toBe(true);
    expect(long[out.length]).toMatch(/[ ,]/); // cut between words
    expect(out).not.toMatch(/[ ,]$/);
  });

  it('treats refusals and empty answers as refused', () => {
    for (const answer of ["I'm sorry, I can't help with that.", 'Sorry, no.', 'I can’t identify people.', 'As an AI, I cannot.', '', '   ', '""', null]) {
      expect(() => cleanPromptAnswer(answer)).toThrow(PromptHelperError);
      try {
        cleanPromptAnswer(answer);
      } catch (err) {
        expect((err as PromptHelperError).code).toBe('refused');
      }
    }
  });
});
