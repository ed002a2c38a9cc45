/**
 * A TCP proxy that can be switched, while its clients stay connected, between passing bytes
 * and a blackhole: in blackhole mode nothing goes either way (the bytes are dropped, no FIN,
 * no RST), and new connections are accepted but get no answer, which is what a client sees
 * of a firewall that drops, a partitioned network or a hung server; never a refusal. Back in
 * pass mode, the connections that lost bytes are cut (their streams are broken), as a
 * healed network's RST would; the others go on.
 *
 * `except` keeps some connections passing during a blackhole: those whose first bytes from
 * the client match it (a Redis client's `CLIENT SETNAME` names it), so a test can blackhole
 * the queue's connection and keep the subscriber's.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  /** The first bytes the client sent (latin1), to match `except` against. */
  hello: string;
  /** Bytes were dropped: cut it when passing again. */
  broken: boolean;
}

export class SwitchProxy {
  private server: Server | undefined;
  private readonly links = new Set<Link>();
  private mode: { kind: 'pass' } | { kind: 'blackhole'; except?: RegExp } = { kind: 'pass' };
  port = 0;

  constructor(private readonly target: string) {}

  /** `redis://127.0.0.1:PORT/0`: the target's URL with the proxy's port. */
  url(): string {
    const u = new URL(this.target);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString().replace(/\/$/, '');
  }

  /** Connections open now. */
  get connections(): number {
    return this.links.size;
  }

  async start(): Promise<void> {
    const t = new URL(this.target);
    this.server = createServer((client) => {
      const upstream = connect(Number(t.port), t.hostname);
      const link: Link = { client, upstream, hello: '', broken: false };
      this.links.add(link);
      const cut = (): void => {
        client.destroy();
        upstream.destroy();
        this.links.delete(link);
      };
      for (const s of [client, upstream]) {
        s.on('error', cut);
        s.on('close', cut);
      }
      client.on('data', (chunk: Buffer) => {
        if (link.hello.length < 4096) link.hello += chunk.toString('latin1');
        if (this.dropping(link)) link.broken = true;
        else upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (this.dropping(link)) link.broken = true;
        else client.write(chunk);
      });
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Drop every byte from now on (but for connections whose first bytes match `except`). */
  blackhole(except?: RegExp): void {
    this.mode = { kind: 'blackhole', except };
  }

  /** Pass bytes again; the connections that lost bytes are cut. */
  pass(): void {
    this.mode = { kind: 'pass' };
    for (const link of [...this.links]) {
      if (!link.broken) continue;
      link.client.destroy();
      link.upstream.destroy();
      this.links.delete(link);
    }
  }

  async stop(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    this.links.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }

  private dropping(link: Link): boolean {
    if (this.mode.kind === 'pass') return false;
    return !(this.mode.except && this.mode.except.test(link.hello));
  }
}
