// A loopback fake of a self-hosted Bot API server (telegram-bot-api --local): getFile answers
// with whatever file_path the test set (an absolute path on "its" disk, or a relative one served
// over /file/bot<token>/...), and the file route can be told to stall. Starts on 127.0.0.1 on a
// free port and closes its own connections on stop.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class FakeLocalBotApi {
  private server?: Server;
  /** file_id → the file_path getFile reports. */
  readonly paths = new Map<string, string>();
  /** Bytes served for relative paths; a path missing here stalls (headers sent, body never ends). */
  readonly served = new Map<string, Buffer>();
  getFileCalls = 0;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const fileRoute = /^\/file\/bot[^/]+\/(.+)$/.exec(url.pathname);
      if (fileRoute) {
        const bytes = this.served.get(fileRoute[1]!);
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        if (bytes) res.end(bytes);
        else res.write('x'); // stalls
        return;
      }
      if (/^\/bot[^/]+\/getFile$/.test(url.pathname)) {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          this.getFileCalls++;
          const fileId = String((JSON.parse(body || '{}') as { file_id?: string }).file_id);
          const path = this.paths.get(fileId);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(path === undefined
            ? { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' }
            : { ok: true, result: { file_id: fileId, file_unique_id: `u-${fileId}`, file_path: path } }));
        });
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error_code: 404, description: 'Not Found' }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    this.server = undefined;
  }
}
