/** A local HTTP(S) receiver for webhook posts: records each request's method, headers and body. */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export interface ReceivedPost {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export class WebhookReceiver {
  readonly posts: ReceivedPost[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** `status`: what every post is answered with; `tls`: serve https with this certificate. */
  static async start(options: { status?: number; tls?: { cert: string; key: string } } = {}): Promise<WebhookReceiver> {
    // Assigned once the server listens; the handler reads it only for posts that come after.
    // eslint-disable-next-line prefer-const
    let receiver: WebhookReceiver | undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        receiver!.posts.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(options.status ?? 204).end();
      });
    };
    const server = options.tls
      ? createHttps({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, handler)
      : createHttp(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    receiver = new WebhookReceiver(
      server,
      `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/hooks/s3s3-secret-token`,
    );
    return receiver;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
