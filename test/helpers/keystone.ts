/**
 * A small Keystone v3 token endpoint for the tests: POST /v3/auth/tokens with the password
 * method and a project scope. It checks the credentials and scope it is configured with, gets
 * a real token from the test Swift's tempauth, and answers as Keystone does (201,
 * X-Subject-Token, a token body with expires_at and a catalog whose object-store endpoints
 * include the real Swift's storage URL in one region). The test Swift runs tempauth only, so
 * Keystone's own tokens would not open it: this stands in for Keystone, not for Swift.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface KeystoneStubOptions {
  /** The real Swift's tempauth (auth v1) URL, user and key. */
  readonly swift: { readonly authUrl: string; readonly user: string; readonly key: string };
  readonly username: string;
  readonly password: string;
  readonly project: string;
  readonly userDomain?: string;
  readonly projectDomain?: string;
  /** The region whose public object-store endpoint is the real Swift (others point nowhere). */
  readonly region: string;
  /** Life of each token issued (default one hour). */
  readonly lifetimeMs?: number;
  /** Serve https with this certificate and key (PEM text). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface TokenRequest {
  readonly user?: string;
  readonly userDomain?: string;
  readonly project?: string;
  readonly projectDomain?: string;
}

export class KeystoneStub {
  /** Every token request, in order. */
  readonly requests: TokenRequest[] = [];
  /** Tokens handed out. */
  issued = 0;
  /** Hand out this many tokens that Swift will refuse (as if revoked) before real ones. */
  bogus = 0;
  private server: http.Server | https.Server | undefined;

  constructor(private readonly o: KeystoneStubOptions) {}

  /** Starts listening; resolves with the auth_url (`http(s)://127.0.0.1:PORT/v3`). */
  async start(): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    const tls = this.o.tls;
    const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, handler) : http.createServer(handler);
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/v3`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    };
    if (req.method !== 'POST' || req.url !== '/v3/auth/tokens')
      return reply(404, { error: { code: 404, title: 'Not Found' } });
    let doc: {
      auth?: {
        identity?: {
          methods?: string[];
          password?: { user?: { name?: string; password?: string; domain?: { name?: string } } };
        };
        scope?: { project?: { name?: string; domain?: { name?: string } } };
      };
    };
    try {
      doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof doc;
    } catch {
      return reply(400, { error: { code: 400, title: 'Bad Request' } });
    }
    const user = doc.auth?.identity?.password?.user;
    const project = doc.auth?.scope?.project;
    this.requests.push({
      user: user?.name,
      userDomain: user?.domain?.name,
      project: project?.name,
      projectDomain: project?.domain?.name,
    });
    const o = this.o;
    const ok =
      doc.auth?.identity?.methods?.includes('password') &&
      user?.name === o.username &&
      user.password === o.password &&
      user.domain?.name === (o.userDomain ?? 'Default') &&
      project?.name === o.project &&
      project.domain?.name === (o.projectDomain ?? 'Default');
    if (!ok)
      return reply(401, {
        error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
      });

    // A real token from Swift's tempauth: the one Swift will accept.
    const real = await new Promise<{ token: string; storageUrl: string }>((resolve, reject) => {
      http
        .get(o.swift.authUrl, { headers: { 'x-auth-user': o.swift.user, 'x-auth-key': o.swift.key } }, (r) => {
          r.resume();
          const token = r.headers['x-auth-token'];
          const storageUrl = r.headers['x-storage-url'];
          if (r.statusCode !== 200 || typeof token !== 'string' || typeof storageUrl !== 'string')
            reject(new Error(`tempauth answered ${r.statusCode}`));
          else resolve({ token, storageUrl });
        })
        .on('error', reject);
    });
    this.issued++;
    const token = this.bogus > 0 ? (this.bogus--, `AUTH_tk${randomBytes(16).toString('hex')}`) : real.token;
    const nowhere = 'http://127.0.0.1:9/v1/AUTH_nowhere';
    reply(
      201,
      {
        token: {
          methods: ['password'],
          expires_at: new Date(Date.now() + (o.lifetimeMs ?? 3_600_000)).toISOString(),
          project: { name: o.project, domain: { name: o.projectDomain ?? 'Default' } },
          catalog: [
            {
              type: 'identity',
              name: 'keystone',
              endpoints: [{ interface: 'public', region: o.region, region_id: o.region, url: 'http://127.0.0.1:9/v3' }],
            },
            {
              type: 'object-store',
              name: 'swift',
              endpoints: [
                // Only the public endpoint of the configured region is the real Swift.
                { interface: 'internal', region: o.region, region_id: o.region, url: nowhere },
                { interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: nowhere },
                { interface: 'public', region: o.region, region_id: o.region, url: real.storageUrl },
              ],
            },
          ],
        },
      },
      { 'x-subject-token': token },
    );
  }
}
