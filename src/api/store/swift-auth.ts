/**
 * Swift tokens. Auth v1 (tempauth, Cloud Files' legacy auth): GET auth_url with X-Auth-User
 * and X-Auth-Key; the answer names the token and the storage URL. Keystone v3: POST
 * auth_url/auth/tokens (password method, project scope); the token is X-Subject-Token and
 * the storage URL the catalog's public object-store endpoint (of `region` when set).
 *
 * A token is reused until shortly before it expires, or until a request is refused with 401;
 * callers then ask for a renewal naming the session they used, so one refusal seen by many
 * requests at once costs one new token. The key, the password and the tokens never appear
 * in an error or a log line.
 */
import type http from 'node:http';
import type { SwiftConfig } from '../config.js';
import { StoreError } from '../errors.js';
import { printAs } from '../redact.js';
import { toStoreError } from './classify.js';
import { exchange, readText, type HttpTarget, type LeanRequest, type LeanResponse } from './lean-http.js';

/** A Swift token and the storage URL it works on. */
export interface SwiftSession {
  readonly token: string;
  /** The account URL, e.g. `https://swift.example.com/v1/AUTH_account`, without a trailing slash. */
  readonly storageUrl: string;
  /** When to get a new token before being refused (ms since the epoch); Infinity when the service did not say. */
  readonly renewAt: number;
}

/** How to reach a URL: the agent for its scheme and the section's timeouts. */
export interface Transport {
  agentFor(secure: boolean): http.Agent;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/** A SwiftAuth's container, section and way to reach the auth service. */
export interface SwiftAuthOptions {
  /** Config section and container, for messages. */
  readonly section: string;
  readonly container: string;
  readonly transport: Transport;
}

/** Swift answers errors with HTML, not codes: the status says what happened. */
const SWIFT_CODES: Readonly<Record<number, string>> = {
  // A code keeps Swift's one-line reason in the error (e.g. "Object name length of 1100 longer than 1024").
  400: 'BadRequest',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  411: 'LengthRequired',
  416: 'InvalidRange',
  500: 'InternalError',
  507: 'InsufficientStorage',
  401: 'Unauthorized',
  403: 'AccessDenied',
  412: 'PreconditionFailed',
  // The body's MD5 is not the ETag sent with it: Swift kept nothing.
  422: 'BadDigest',
  413: 'EntityTooLarge',
  // Swift's ratelimit middleware answers 498.
  498: 'SlowDown',
  429: 'TooManyRequests',
};

/** A Swift error answer's code (from its status) and the first words of its HTML body. */
export function swiftErrorBody(status: number, text: string): { code?: string; message?: string } {
  const plain = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { code: SWIFT_CODES[status], message: plain === '' ? undefined : plain.slice(0, 200) };
}

/** One request to `url` (path and query taken from it as written, never normalised). */
export function sendTo(
  transport: Transport,
  url: URL,
  pathAndQuery: string,
  req: LeanRequest,
  headers: Record<string, string>,
): Promise<LeanResponse> {
  const secure = url.protocol === 'https:';
  const target: HttpTarget = {
    agent: transport.agentFor(secure),
    secure,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? undefined : Number(url.port),
    connectTimeoutMs: transport.connectTimeoutMs,
    readTimeoutMs: transport.readTimeoutMs,
  };
  const all: Record<string, string> = { host: url.host, ...headers };
  if (req.contentLength !== undefined) all['content-length'] = String(req.contentLength);
  else if (req.body === undefined && (req.method === 'PUT' || req.method === 'POST' || req.method === 'COPY'))
    all['content-length'] = '0';
  return exchange(target, req, pathAndQuery, all, swiftErrorBody);
}

/** Swift tokens (auth v1 or Keystone v3) for one section: obtained, reused, and renewed once per refusal. */
export class SwiftAuth {
  private current: SwiftSession | undefined;
  private pending: Promise<SwiftSession> | undefined;
  /** Tokens obtained so far (for tests and the debug log). */
  tokensIssued = 0;

  constructor(
    private readonly config: SwiftConfig,
    private readonly options: SwiftAuthOptions,
  ) {}

  get authUrl(): string {
    return this.config.authUrl;
  }

  /** A token still good: the one held, or a new one (one request however many callers wait). */
  session(): Promise<SwiftSession> {
    const c = this.current;
    if (c && Date.now() < c.renewAt) return Promise.resolve(c);
    return this.obtain();
  }

  /** `stale` was refused (401): a new token, unless another caller has already replaced it. */
  renew(stale: SwiftSession): Promise<SwiftSession> {
    if (this.current !== undefined && this.current !== stale) return this.session();
    this.current = undefined;
    return this.obtain();
  }

  private obtain(): Promise<SwiftSession> {
    this.pending ??= (this.config.authVersion === 3 ? this.keystone() : this.v1())
      .then((s) => {
        this.current = s;
        this.tokensIssued++;
        return s;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private ctx(detail?: string) {
    return {
      section: this.options.section,
      op: 'Auth',
      endpoint: this.config.authUrl,
      bucket: this.options.container,
      ...(detail ? { detail } : {}),
    };
  }

  private refused(err: unknown, what: string): StoreError {
    return new StoreError({
      ...this.ctx(what),
      status: statusOf(err),
      code: 'Unauthorized',
      errorClass: 'fatal',
      cause: err,
    });
  }

  private async call(
    url: URL,
    req: LeanRequest,
    headers: Record<string, string>,
    refusal: string,
  ): Promise<LeanResponse> {
    try {
      return await sendTo(this.options.transport, url, url.pathname + url.search, req, headers);
    } catch (err) {
      const status = statusOf(err);
      if (status === 401 || status === 403) throw this.refused(err, refusal);
      const unreachable = unreachableError(err, this.ctx(), 'check auth_url and that the auth service is up');
      if (unreachable) throw unreachable;
      throw toStoreError(err, this.ctx());
    }
  }

  private async v1(): Promise<SwiftSession> {
    const c = this.config;
    const url = new URL(c.authUrl);
    const res = await this.call(
      url,
      { method: 'GET' },
      { 'x-auth-user': c.user, 'x-auth-key': c.secret },
      `the auth service refused user ${JSON.stringify(c.user)} with this key: check user and key (or key_file)`,
    );
    const token = header(res, 'x-auth-token') ?? header(res, 'x-storage-token');
    const storage = c.storageUrl ?? header(res, 'x-storage-url');
    if (!token || !storage) {
      throw new StoreError({
        ...this.ctx(
          `the auth service answered ${res.status} without ${!token ? 'X-Auth-Token' : 'X-Storage-Url'}: ` +
            'is auth_url an auth v1 endpoint?',
        ),
        errorClass: 'fatal',
      });
    }
    const seconds = Number(header(res, 'x-auth-token-expires'));
    return {
      token,
      storageUrl: storage.replace(/\/+$/, ''),
      renewAt: renewAt(Number.isFinite(seconds) && seconds > 0 ? Date.now() + seconds * 1000 : undefined),
    };
  }

  private async keystone(): Promise<SwiftSession> {
    const c = this.config;
    const url = new URL(c.authUrl.replace(/\/+$/, '') + '/auth/tokens');
    const body = Buffer.from(
      JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: c.user, domain: { name: c.userDomainName ?? 'Default' }, password: c.secret } },
          },
          scope: { project: { name: c.projectName, domain: { name: c.projectDomainName ?? 'Default' } } },
        },
      }),
    );
    const res = await this.call(
      url,
      { method: 'POST', body, contentLength: body.length, readBody: true },
      { 'content-type': 'application/json', accept: 'application/json' },
      `Keystone refused user ${JSON.stringify(c.user)} in project ${JSON.stringify(c.projectName)}: ` +
        'check username, password (or password_file), project_name, user_domain_name and project_domain_name',
    );
    const token = header(res, 'x-subject-token');
    let doc: KeystoneToken;
    try {
      doc = JSON.parse(await readText(res.body)) as KeystoneToken;
    } catch {
      throw new StoreError({
        ...this.ctx('Keystone answered with a token body that is not JSON: is auth_url a Keystone v3 endpoint?'),
        errorClass: 'fatal',
      });
    }
    if (!token)
      throw new StoreError({
        ...this.ctx('Keystone answered without X-Subject-Token: is auth_url a Keystone v3 endpoint?'),
        errorClass: 'fatal',
      });
    const storage = c.storageUrl ?? objectStoreUrl(doc, c.region);
    if (!storage) {
      const where = c.region ? ` in region ${JSON.stringify(c.region)}` : '';
      throw new StoreError({
        ...this.ctx(
          `the Keystone catalog has no public object-store endpoint${where}: ` +
            'set region to one the catalog has, or storage_url',
        ),
        errorClass: 'fatal',
      });
    }
    const expires = doc.token?.expires_at ? Date.parse(doc.token.expires_at) : NaN;
    return {
      token,
      storageUrl: storage.replace(/\/+$/, ''),
      renewAt: renewAt(Number.isNaN(expires) ? undefined : expires),
    };
  }
}

// Printing the auth shows where it goes, never the key or the token.
printAs(SwiftAuth, 'SwiftAuth', (a) => ({ authUrl: a.authUrl }));

interface KeystoneToken {
  token?: {
    expires_at?: string;
    catalog?: Array<{
      type?: string;
      endpoints?: Array<{ interface?: string; region?: string; region_id?: string; url?: string }>;
    }>;
  };
}

/** The public object-store endpoint of the catalog, of `region` when given. */
function objectStoreUrl(doc: KeystoneToken, region: string | undefined): string | undefined {
  for (const service of doc.token?.catalog ?? []) {
    if (service.type !== 'object-store') continue;
    for (const e of service.endpoints ?? []) {
      if (e.interface !== 'public' || !e.url) continue;
      if (region !== undefined && e.region !== region && e.region_id !== region) continue;
      return e.url;
    }
  }
  return undefined;
}

/** A minute before the token expires (half its life when shorter), so no request races the expiry. */
function renewAt(expiresAt: number | undefined): number {
  if (expiresAt === undefined) return Number.POSITIVE_INFINITY;
  const life = expiresAt - Date.now();
  return expiresAt - Math.min(60_000, Math.max(0, life / 2));
}

function header(res: LeanResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Errors of a host that cannot be reached at all (nothing answered). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * A Swift URL that does not answer, as an error naming the Swift key to fix (the generic
 * hint names S3's endpoint/host/port, which a `type = swift` section does not have).
 * Undefined for any other error. Still retryable: the server may be restarting.
 */
export function unreachableError(
  err: unknown,
  ctx: { section: string; op: string; endpoint: string; bucket: string; key?: string },
  fix: string,
): StoreError | undefined {
  const e = typeof err === 'object' && err !== null ? (err as { code?: string; message?: string; name?: string }) : {};
  const code =
    e.code !== undefined && UNREACHABLE.has(e.code)
      ? e.code
      : e.name === 'TimeoutError' && /connect_timeout/.test(e.message ?? '')
        ? 'ConnectTimeout'
        : undefined;
  if (code === undefined || statusOf(err) !== undefined) return undefined;
  return new StoreError({ ...ctx, code, errorClass: 'retry', cause: err, detail: `${e.message ?? code} (${fix})` });
}

/** The HTTP status of an error, whatever its shape. */
export function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null
    ? (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
    : undefined;
}
