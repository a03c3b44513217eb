import { describe, expect, it } from 'vitest';
import { FfmpegMissingError, resolveFfmpeg } from '../../src/util/ffmpeg.ts';

describe('ffmpeg resolution', () => {
  it('finds an ffmpeg with libx264', async () => {
    const ff = await resolveFfmpeg();
    expect(ff.hasX264).toBe(true);
    expect(['FFMPEG_PATH', 'ffmpeg-static', '@ffmpeg-installer', 'system']).toContain(ff.source);
  });

  it('skips a broken FFMPEG_PATH and still names what it tried', async () => {
    const ff = await resolveFfmpeg('/nonexistent/ffmpeg');
    expect(ff.source).not.toBe('FFMPEG_PATH');
  });

  it('the missing error names all three ways to get one', () => {
    const e = new FfmpegMissingError(['FFMPEG_PATH (not set or not installed)']);
    expect(e.message).toMatch(/FFMPEG_PATH/);
    expect(e.message).toMatch(/ffmpeg-static/);
    expect(e.message).toMatch(/npm install/);
    expect(e.message).toMatch(/apt-get install ffmpeg/);
  });
});
