/**
 * What the listener tests share: a config file for real buckets, the daemon as a child
 * process with its stderr lines, polling of real state, a Redis of a test's own (to kill
 * and restart), and a TCP proxy to take a destination down and bring it back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/api/config.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { connectRedis, type RedisCommands } from '../../src/api/redis/redis.js';
import { SyncQueue, type QueueCounts } from '../../src/api/queue/queue.js';
import { endpointConfig, sectionIni, uniqueBucket, type TestServer } from './servers.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The environment for a child command: the harness's own S3S3TEST_* variables removed, since
 * the config reads every S3S3_<SECTION>_<KEY> (S3S3TEST_REDIS would be [test] redis).
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('S3S3_')) env[k] = v;
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

export function tempDir(label: string): string {
  const base = process.env.S3S3TEST_STATE_DIR ?? tmpdir();
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${label}-`));
}

/** Poll until `check` returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Setup {
  readonly file: string;
  readonly config: Config;
  readonly source: S3Store;
  readonly dests: S3Store[];
  readonly channel: string;
  readonly redis: RedisCommands;
  /** The listener's queue (this config's), as the workers see it. */
  counts(): Promise<QueueCounts>;
  /** Wait until no job waits, runs or is delayed; `failed` jobs expected (default 0). */
  drained(failed?: number, timeoutMs?: number): Promise<void>;
  cleanup(): Promise<void>;
}

export interface SetupOptions {
  readonly source: TestServer;
  /** Destinations: a server (bucket created here), or an endpoint to use as given (a proxy, a closed port). */
  readonly dests: ReadonlyArray<TestServer | { server: TestServer; endpoint: string; bucket?: string }>;
  readonly redisUrl: string;
  readonly pubsub?: Record<string, string | number | boolean>;
  /** An `[http]` section with these keys. */
  readonly http?: Record<string, string | number | boolean>;
  readonly endpointExtra?: Record<string, string | number | boolean>;
  /** Keys for the [source] section only (e.g. prefix). */
  readonly sourceExtra?: Record<string, string | number | boolean>;
  /** Keys for every [dest*] section only (e.g. delete = true, prefix). */
  readonly destExtra?: Record<string, string | number | boolean>;
  readonly label: string;
}

/** Buckets on real servers, an INI file naming them, and unique Redis names for this test. */
export async function setup(o: SetupOptions): Promise<Setup> {
  const dir = tempDir(o.label);
  const id = randomBytes(4).toString('hex');
  const channel = `t-${o.label}-${id}`;
  const extra = { read_timeout: 20, connect_timeout: 2, ...o.endpointExtra };
  const sourceBucket = uniqueBucket(`${o.label}-src`);
  let ini = sectionIni('source', o.source, sourceBucket, { ...extra, ...o.sourceExtra });
  const made: { server: TestServer; bucket: string }[] = [{ server: o.source, bucket: sourceBucket }];
  o.dests.forEach((d, i) => {
    if ('accessKey' in d) {
      const bucket = uniqueBucket(`${o.label}-d${i + 1}`);
      made.push({ server: d, bucket });
      ini += sectionIni(`dest${i + 1}`, d, bucket, { ...extra, ...o.destExtra });
    } else {
      const bucket = d.bucket ?? uniqueBucket(`${o.label}-d${i + 1}`);
      if (d.bucket === undefined) made.push({ server: d.server, bucket });
      ini += sectionIni(`dest${i + 1}`, { ...d.server, endpoint: d.endpoint }, bucket, { ...extra, ...o.destExtra });
    }
  });
  const pubsub: Record<string, string | number | boolean> = {
    redis: true,
    redis_url: o.redisUrl,
    channel,
    pending_set: `${channel}:pending`,
    failed_list: `${channel}:failed`,
    ...o.pubsub,
  };
  ini +=
    '[pubsub]\n' +
    Object.entries(pubsub)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n') +
    '\n';
  if (o.http)
    ini +=
      '[http]\n' +
      Object.entries(o.http)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n') +
      '\n';
  const file = join(dir, 's3s3.ini');
  writeFileSync(file, ini, { mode: 0o600 });
  const config = loadConfig({ file, env: {} });
  const stores = made.map((m) => new S3Store(endpointConfig(m.server, m.bucket)));
  for (const s of stores) await s.createBucket();
  const source = new S3Store(config.source);
  const dests = config.destinations.map((d) => new S3Store(d));
  const redis = connectRedis(o.redisUrl, { redactedUrl: o.redisUrl, mode: 'client' });
  let queue: SyncQueue | undefined;
  const counts = (): Promise<QueueCounts> => (queue ??= new SyncQueue(config, { name: 'test-counts' })).counts();
  return {
    file,
    config,
    source,
    dests,
    channel,
    redis,
    counts,
    async drained(failed = 0, timeoutMs = 60_000) {
      let last: QueueCounts | undefined;
      await waitFor(
        `the queue to drain with ${failed} failed`,
        async () => {
          last = await counts();
          if (last.failed > failed) throw new Error(`more jobs failed than expected: ${JSON.stringify(last)}`);
          return last.waiting + last.active + last.delayed === 0 && last.failed === failed;
        },
        timeoutMs,
        200,
      ).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)} (last counts ${JSON.stringify(last)})`);
      });
    },
    async cleanup() {
      // The test's jobs go too; best effort: a test may have pointed redis_url at nothing.
      if (config.pubsub.redis) {
        queue ??= new SyncQueue(config, { name: 'test-counts' });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          queue.obliterate().catch(() => undefined),
          new Promise((r) => (timer = setTimeout(r, 5000))),
        ]);
        clearTimeout(timer);
      }
      await queue?.close();
      for (const s of stores) {
        try {
          await s.destroyBucket();
        } catch {
          // a test that took a server down may leave a bucket; the server state dir goes anyway
        }
        s.close();
      }
      source.close();
      for (const d of dests) d.close();
      await redis
        .call(
          'DEL',
          pubsub.pending_set as string,
          pubsub.failed_list as string,
          `${pubsub.failed_list as string}:processing`,
        )
        .catch(() => undefined);
      await redis.close();
    },
  };
}

/** The daemon as a child process: `node dist/scripts/listen.js`. */
export class Daemon {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}, script = 'listen') {
    this.child = spawn(process.execPath, [join(ROOT, 'dist/scripts', `${script}.js`), ...args], {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    this.child.stdout!.resume();
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
  }

  static start(configFile: string, extraArgs: readonly string[] = []): Daemon {
    return new Daemon(['--config', configFile, ...extraArgs]);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Lines matching, so far. */
  matching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l));
  }

  /** Wait for the n-th line matching (1 = first). */
  async waitForLine(re: RegExp, timeoutMs = 60_000, n = 1): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hits = this.matching(re);
      if (hits.length >= n) return hits[n - 1]!;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `daemon exited (${this.child.exitCode ?? this.child.signalCode}) before a line matching ${re}; ` +
            `stderr:\n${this.lines.join('\n')}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for a line matching ${re}; stderr:\n${this.lines.join('\n')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Stop it however it is: SIGTERM, then SIGKILL. For cleanup. */
  async dispose(): Promise<void> {
    this.kill('SIGTERM');
    const t = setTimeout(() => this.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Run a CLI script to completion. */
export function runScript(
  script: string,
  args: readonly string[],
  input?: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/scripts', `${script}.js`), ...args], {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdin.end(input ?? '');
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** A redis-server of a test's own, in its own state dir, restartable on the same port. */
export class OwnRedis {
  readonly dir: string;
  port = 0;
  /** `appendonly`: every write on disk before it is acknowledged, as docs/s3s3listen.md asks of the queue's Redis. */
  constructor(
    label: string,
    private readonly appendonly = false,
  ) {
    this.dir = tempDir(`redis-${label}`);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  start(): void {
    const env = {
      ...process.env,
      ...(this.port ? { REDIS_PORT: String(this.port) } : {}),
      REDIS_APPENDONLY: this.appendonly ? 'yes' : 'no',
    };
    const out = spawnSync('bash', [join(ROOT, 'test/servers/redis.sh'), 'start', this.dir], { env, encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`redis did not start: ${out.stderr}`);
    this.port = Number(/REDIS_PORT=(\d+)/.exec(readFileSync(join(this.dir, 'env'), 'utf8'))![1]);
  }

  stop(): void {
    spawnSync('bash', [join(ROOT, 'test/servers/redis.sh'), 'stop', this.dir], { encoding: 'utf8' });
  }

  /** Kill it with SIGKILL, as a crash would (no shutdown, no save). */
  kill9(): void {
    const pid = Number(readFileSync(join(this.dir, 'redis.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    spawnSync('bash', ['-c', `for i in $(seq 1 50); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done`]);
    rmSync(join(this.dir, 'redis.pid'), { force: true });
  }

  /** One command through redis-cli (CONFIG SET, REPLICAOF...); its output, trimmed. */
  cli(...args: string[]): string {
    return this.cliInput(undefined, ...args);
  }

  /** The same with `input` on stdin (`-x` makes it the last argument: values too long for a command line). */
  cliInput(input: string | undefined, ...args: string[]): string {
    const out = spawnSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8', input });
    if (out.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${out.stderr}`);
    return out.stdout.trim();
  }
}

/** A TCP proxy on a fixed loopback port: stop() takes the server behind it down, start() brings it back. */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  /** `bytesPerSecond`: slow each connection's upload to this rate, so a copy takes a while. */
  constructor(
    private readonly target: string,
    private readonly bytesPerSecond?: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const t = new URL(this.target);
    this.server = createServer((client) => {
      const upstream = connect(Number(t.port), t.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      if (this.bytesPerSecond === undefined) {
        client.pipe(upstream);
      } else {
        const rate = this.bytesPerSecond;
        client.on('data', (chunk: Buffer) => {
          client.pause();
          upstream.write(chunk);
          setTimeout(() => client.resume(), (chunk.length / rate) * 1000);
        });
        client.on('end', () => upstream.end());
      }
      upstream.pipe(client);
    });
    await new Promise<void>((r, j) => {
      this.server!.once('error', j);
      this.server!.listen(this.port, '127.0.0.1', () => r());
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function readBody(store: S3Store, key: string): Promise<Buffer | null> {
  if ((await store.head(key)) === null) return null;
  const got = await store.get(key);
  const chunks: Buffer[] = [];
  for await (const c of got.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** True when every destination holds exactly `body` at `key`. */
export async function everywhere(dests: readonly S3Store[], key: string, body: Buffer): Promise<boolean> {
  for (const d of dests) {
    const got = await readBody(d, key);
    if (got === null || !got.equals(body)) return false;
  }
  return true;
}
