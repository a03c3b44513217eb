// What a GPU worker accepts on the cancel channel: a job id, and nothing that can throw.
import { describe, expect, it } from 'vitest';
import { parseCancelMessage } from '../../src/queue/bullmq/gpu-worker.ts';

describe('parseCancelMessage', () => {
  it('reads the job id of a cancel message', () => {
    expect(parseCancelMessage(JSON.stringify({ jobId: 'j-12', by: 'discord:1' }))).toBe('j-12');
  });
  it('returns undefined for anything malformed instead of throwing', () => {
    for (const junk of ['not json', 'null', '42', '[]', '{"jobId":42}', '{"jobId":""}', JSON.stringify({ jobId: 'x'.repeat(500) }), '']) {
      expect(parseCancelMessage(junk)).toBeUndefined();
    }
  });
});
