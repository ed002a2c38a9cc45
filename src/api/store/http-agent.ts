/**
 * Keep-alive agents sized to the configured concurrency, with one fix: when a server
 * rejects a request before reading its body (Ceph RGW does, e.g. for an over-long key),
 * the unread body is still on the wire and the next request on that pooled socket stalls
 * until the read timeout. Such sockets are marked and closed instead of being reused.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

const poisoned = new WeakSet<Duplex>();

/** Call when a response with status >= 400 answers a request that carried a body. */
export function discardSocketAfterResponse(socket: Duplex | null | undefined): void {
  if (socket) poisoned.add(socket);
}

class SafeHttpAgent extends http.Agent {
  // Node's typings say void; at run time the return value decides whether the socket is kept.
  override keepSocketAlive(socket: Duplex): boolean {
    if (poisoned.has(socket)) return false;
    return super.keepSocketAlive(socket) as unknown as boolean;
  }
}

class SafeHttpsAgent extends https.Agent {
  // Node's typings say void; at run time the return value decides whether the socket is kept.
  override keepSocketAlive(socket: Duplex): boolean {
    if (poisoned.has(socket)) return false;
    return super.keepSocketAlive(socket) as unknown as boolean;
  }
}

/** The TLS settings of one section's endpoint. */
export interface AgentTls {
  /** PEM text of the CAs to trust instead of the system's (this endpoint only). */
  readonly ca?: string;
  /** False accepts any certificate. */
  readonly rejectUnauthorized?: boolean;
}

/** A keep-alive agent for one endpoint (http or https), at most `maxSockets` connections. */
export function createAgent(secure: boolean, maxSockets: number, tls: AgentTls = {}): http.Agent {
  const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
  if (!secure) return new SafeHttpAgent(options);
  return new SafeHttpsAgent({
    ...options,
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  });
}
