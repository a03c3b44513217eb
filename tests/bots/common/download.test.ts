import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { downloadLimited, DownloadError, httpFailureSentence } from '../../../src/bots/common/download.ts';

let server: Server;
let base: string;
let lastAuth: string | undefined;
let streamedBytes = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    lastAuth = req.headers.authorization;
    const path = req.url ?? '/';
    if (path === '/small') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.end(Buffer.alloc(1000, 7));
    } else if (path === '/announced-big') {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
      // never finishes: the client must refuse on the header alone
    } else if (path === '/chunked-big') {
      // No content-length: the limit has to be enforced while streaming.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      streamedBytes = 0;
      const timer = setInterval(() => {
        if (res.destroyed || streamedBytes > 5 * 1024 * 1024) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(Buffer.alloc(16 * 1024, 1));
        streamedBytes += 16 * 1024;
      }, 1);
      res.on('close', () => clearInterval(timer));
    } else if (path === '/no-headers') {
      // Accepts the request and never answers.
    } else if (path === '/slow') {
      res.writeHead(200);
      res.write('x');
    } else {
      res.writeHead(404);
      res.end('no such file, token=SECRET');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('downloadLimited', () => {
  it('downloads a file under the limit and passes headers', async () => {
    const bytes = await downloadLimited(`${base}/small`, 1000, { headers: { authorization: 'Bot abc' } });
    expect(bytes.length).toBe(1000);
    expect(bytes[999]).toBe(7);
    expect(lastAuth).toBe('Bot abc');
  });

  it('refuses early on a content-length over the limit', async () => {
    const err = await downloadLimited(`${base}/announced-big`, 1024 * 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err).toMatchObject({ code: 'too_large', message: 'The file is larger than the 1 MB limit. Please send a smaller one.' });
  });

  it('stops while streaming when no length was announced', async () => {
    const err = await downloadLimited(`${base}/chunked-big`, 256 * 1024).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'too_large' });
    await new Promise((r) => setTimeout(r, 50));
    expect(streamedBytes).toBeLessThan(5 * 1024 * 1024); // the server saw us hang up
  });

  it('turns HTTP errors into a sentence without the URL or the body', async () => {
    const err = await downloadLimited(`${base}/missing?token=SECRET`, 1000).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'http', status: 404 });
    expect((err as Error).message).toBe('The file is no longer available (HTTP 404): its link may have expired or the message was deleted. Please send the image again.');
    expect((err as Error).message).not.toContain('SECRET');
  });

  it('every HTTP failure says what to do next, not only the status code', () => {
    expect(httpFailureSentence(500)).toMatch(/\(HTTP 500\)\. Please send the image again in a minute\.$/);
    expect(httpFailureSentence(429)).toMatch(/again in a minute/);
    expect(httpFailureSentence(403)).toMatch(/expired .* Please send the image again\.$/);
    expect(httpFailureSentence(400)).toMatch(/Please send the image again/);
  });

  it('reports an abort and a refused connection clearly', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(downloadLimited(`${base}/slow`, 1000, { signal: controller.signal })).rejects.toMatchObject({
      code: 'aborted',
      message: 'The download was cancelled.',
    });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(downloadLimited(`http://127.0.0.1:${port}/x`, 1000)).rejects.toMatchObject({ code: 'network' });
  });

  it('gives up on a server that stalls, before the headers or mid-body, with a timeout error', async () => {
    for (const route of ['/no-headers', '/slow']) {
      const err = await downloadLimited(`${base}${route}`, 1000, { timeoutMs: 100 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DownloadError);
      expect(err).toMatchObject({ code: 'timeout', message: 'The download took longer than 100 ms and was stopped. Please send the image again.' });
    }
  }, 10_000);

  it('a caller abort still reads as a cancel when a timeout is set too', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(downloadLimited(`${base}/slow`, 1000, { signal: controller.signal, timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'aborted' });
  });
});
