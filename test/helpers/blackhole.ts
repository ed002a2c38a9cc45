/**
 * An endpoint that accepts connections and never answers: a plain TCP server that reads
 * and discards whatever arrives and sends no byte back (a hung server, or a firewall that
 * lets the handshake through). A client must give up on its own read timeout.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export class Blackhole {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted so far. */
  accepted = 0;

  async start(): Promise<string> {
    this.server = net.createServer((socket) => {
      this.accepted++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      socket.resume();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
