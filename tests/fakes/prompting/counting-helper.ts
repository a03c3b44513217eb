// A prompt helper that answers one fixed prompt and counts how often it was asked: tests check that
// limits stop a request before the (costly, rate-limited) vision model is called.
import type { PromptHelper } from '../../../src/prompting/types.ts';

export interface CountingHelper extends PromptHelper {
  asked: number;
}

export function countingHelper(answer = 'The cat blinks.'): CountingHelper {
  return {
    configured: true,
    asked: 0,
    async suggest() {
      this.asked += 1;
      return answer;
    },
  };
}
