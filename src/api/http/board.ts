/**
 * `/queues`: bull-board on the queue, behind s3s3's own access rules. The only importer of
 * @bull-board/*, hono and @hono/node-server (bull-board's hono adapter: 9 packages and ~9 MiB
 * of RSS once loaded, against express's 73 packages and ~10 MiB; koa and fastify cost more).
 */
import { createHmac } from 'node:crypto';
import { bearerToken, sameSecret } from './tokens.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { silentLogger, type Logger } from '../log.js';
import type { SyncQueue } from '../queue/queue.js';

/** Where the board is mounted and who may use it. */
export interface BoardOptions {
  /** Where the board is mounted, e.g. '/queues'. */
  readonly basePath: string;
  /** `[http] admin_token`: every request needs it when set; without it the board is read-only, open to reads. */
  readonly adminToken?: string;
  readonly logger?: Logger;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const COOKIE = 's3s3_board';

/**
 * bull-board and hono are loaded on the board's first request, not when the server starts:
 * a daemon whose /queues nobody opens never pays their memory.
 */
function loadBoard(queue: SyncQueue, basePath: string, readOnly: boolean): Listener {
  const req = createRequire(import.meta.url);
  const { createBullBoard } = req('@bull-board/api') as typeof import('@bull-board/api');
  const { BullMQAdapter } = req('@bull-board/api/bullMQAdapter') as typeof import('@bull-board/api/bullMQAdapter');
  const { HonoAdapter } = req('@bull-board/hono') as typeof import('@bull-board/hono');
  const { Hono } = req('hono') as typeof import('hono');
  const { getRequestListener } = req('@hono/node-server') as typeof import('@hono/node-server');
  const { serveStatic } = req('@hono/node-server/serve-static') as typeof import('@hono/node-server/serve-static');

  const server = new HonoAdapter(serveStatic).setBasePath(basePath);
  createBullBoard({
    queues: [new BullMQAdapter(queue.bullQueue, { readOnlyMode: readOnly, description: 'keys to copy or delete' })],
    serverAdapter: server,
    options: { uiConfig: { boardTitle: 's3s3' } },
  });
  const app = new Hono();
  app.route(basePath, server.registerPlugin());
  // Not the default: @hono/node-server would replace the process's global Request/Response.
  return getRequestListener(app.fetch, { overrideGlobalObjects: false });
}

function cookieValue(token: string): string {
  return createHmac('sha256', token).update('s3s3 bull-board session').digest('base64url');
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function refuse(res: ServerResponse, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: reason }) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/**
 * `/queues`: bull-board on the queue. Returns a plain node:http `(req, res)` handler for
 * requests whose path is under basePath; the daemon's HTTP server mounts it there.
 *
 * Access, enforced here before bull-board sees the request:
 * - with `adminToken`, every request (the page, its assets, the JSON that lists jobs with
 *   their keys and errors, and every change) needs `Authorization: Bearer <token>` or the
 *   cookie set by opening the page once with `?token=<token>` (HttpOnly, SameSite=Strict,
 *   Path=basePath); else 401. The cookie holds a value derived from the token, never the
 *   token, which is in no log line and no response. Key names are data too: an operator who
 *   set a token expects nobody without it to read them;
 * - without `adminToken`, GET and HEAD pass (a read-only board, for a loopback address) and
 *   anything else (retry, promote, clean, remove, pause...) is refused (401); bull-board runs
 *   in its readOnlyMode besides (no buttons, and its own 405 behind ours).
 *
 * Retrying a failed job goes through SyncQueue (add, deduplicated per key, then remove the
 * failed job) rather than BullMQ's Job.retry, which would requeue it without its
 * deduplication id: a key announced meanwhile could then run on two workers at once.
 */
export function createBoard(queue: SyncQueue, o: BoardOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const basePath = '/' + o.basePath.replace(/^\/+|\/+$/g, '');
  const log = o.logger ?? silentLogger;
  const token = o.adminToken !== undefined && o.adminToken !== '' ? o.adminToken : undefined;
  const session = token !== undefined ? cookieValue(token) : undefined;
  let listener: Listener | undefined;

  const authorized = (req: IncomingMessage): boolean => {
    if (token === undefined || session === undefined) return false;
    const b = bearerToken(req);
    if (b !== undefined) return sameSecret(b, token);
    const c = readCookie(req, COOKIE);
    return c !== undefined && sameSecret(c, session);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://board');
    const path = url.pathname;
    if (path !== basePath && !path.startsWith(basePath + '/')) return refuse(res, 404, `not under ${basePath}`);
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';

    // ?token=: checked, traded for the cookie, and taken out of the address bar at once.
    if (reading && url.searchParams.has('token')) {
      const given = url.searchParams.get('token') ?? '';
      url.searchParams.delete('token');
      const headers: Record<string, string> = { location: url.pathname + url.search, 'cache-control': 'no-store' };
      if (token === undefined || session === undefined) {
        log.warn('queue board: ?token= given but no [http] admin_token is set: the board stays read-only', { path });
      } else if (!sameSecret(given, token)) {
        log.warn('queue board: refused a wrong ?token=', { path });
        return refuse(res, 401, 'wrong admin token');
      } else {
        headers['set-cookie'] = `${COOKIE}=${session}; Path=${basePath}; HttpOnly; SameSite=Strict`;
        log.info('queue board: admin cookie set for a browser', { path });
      }
      res.writeHead(303, headers);
      res.end();
      return;
    }

    if (token !== undefined) {
      if (!authorized(req)) {
        log.warn(
          reading
            ? 'queue board: refused a read without the admin token'
            : 'queue board: refused a change without the admin token',
          { method, path },
        );
        return refuse(
          res,
          401,
          'this needs the admin token: send Authorization: Bearer <admin_token>, ' +
            `or open ${basePath}?token=<admin_token> once in this browser`,
          {
            'www-authenticate': 'Bearer realm="s3s3"',
          },
        );
      }
      if (!reading) {
        log.info('queue board: admin action', { method, path });
        if (method === 'PUT' && (await retryThroughQueue(queue, path.slice(basePath.length), res))) return;
      }
    } else if (!reading) {
      log.warn('queue board: refused a change (the board is read-only)', { method, path });
      return refuse(res, 401, 'the queue board is read-only: set [http] admin_token to retry or remove jobs from it', {
        'www-authenticate': 'Bearer realm="s3s3"',
      });
    }

    try {
      listener ??= loadBoard(queue, basePath, token === undefined);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error('queue board: bull-board could not be loaded; reinstall s3s3 with its dependencies', {
        error: message,
      });
      return refuse(res, 500, 'bull-board could not be loaded; see the daemon log');
    }
    await listener(req, res);
  };

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error('queue board: request failed', {
        method: req.method,
        error: err instanceof Error ? err.message : String(err),
      });
      if (!res.headersSent) refuse(res, 500, 'the queue board failed; see the daemon log');
      else res.destroy();
    });
  };
}

/**
 * bull-board's retry routes for failed jobs (`/api/queues/<queue>/<job>/retry`,
 * `/api/queues/<queue>/retry/failed`), done by SyncQueue's deduplicated add. Returns false
 * for any other request (and for a job that is not failed), left to bull-board.
 */
async function retryThroughQueue(queue: SyncQueue, sub: string, res: ServerResponse): Promise<boolean> {
  let parts: string[];
  try {
    parts = sub
      .split('/')
      .filter((p) => p !== '')
      .map((p) => decodeURIComponent(p));
  } catch {
    return false; // malformed escapes: bull-board answers them
  }
  if (parts.length !== 5 || parts[0] !== 'api' || parts[1] !== 'queues' || parts[2] !== queue.name) return false;
  if (parts[3] === 'retry' && parts[4] === 'failed') {
    await queue.requeueFailed();
  } else if (parts[4] === 'retry') {
    const job = await queue.bullQueue.getJob(parts[3]!);
    if (!job || (await job.getState()) !== 'failed') return false;
    // As SyncQueue.requeueFailed: added first, then removed, so a crash leaves the key in both, never in neither.
    await queue.add(job.data.key, job.data.op, job.data.hints);
    await job.remove();
  } else {
    return false;
  }
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
  return true;
}
