/**
 * The set-up every row of the fault matrix shares: a source and a destination bucket on
 * two real servers, one of them reached through a FaultProxy, and a BucketClient built
 * from the config text a user would write (so retries, timeouts and page sizes come from
 * the config, as they do for s3s3bucket and s3s3listen). The real buckets are also
 * reachable directly (default settings), to seed them and to check what a user would
 * find in them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { BucketClient } from '../../src/api/bucket-client.js';
import { parseConfig } from '../../src/api/config.js';
import { createLogger } from '../../src/api/log.js';
import type { DuplicateReport } from '../../src/api/sweep/duplicate.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import { FaultProxy, type Expected } from './fault-proxy.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from './seed.js';
import { sectionIni, type TestServer } from './servers.js';

export type Role = 'source' | 'dest1';
export type Ini = Record<string, string | number | boolean>;

export interface Obj {
  readonly key: string;
  readonly body: Buffer;
}

export interface Rig {
  readonly role: Role;
  readonly faulty: TestServer;
  readonly proxy: FaultProxy;
  /** The proxy's address: the endpoint the faulty section names. */
  readonly proxyUrl: string;
  /** The real buckets, reached directly. */
  readonly src: S3Store;
  readonly dst: S3Store;
  /** The bucket behind the proxy. */
  readonly faultyBucket: string;
  readonly configText: string;
  readonly client: BucketClient;
  /** Every log line the client wrote (text format, debug and up). */
  readonly logs: string[];
}

export interface RigOptions {
  /** The server behind the proxy; the other side uses `healthy`. */
  readonly faulty: TestServer;
  readonly healthy: TestServer;
  /** Which section the proxy stands in for. */
  readonly role: Role;
  readonly label: string;
  /** INI keys for both sections. */
  readonly ini?: Ini;
  /** INI keys for the faulty section only (after `ini`). */
  readonly faultyIni?: Ini;
}

/** Everything made by `rig`, undone by `cleanup` (in an `after` hook). */
export class Rigs {
  private readonly proxies: FaultProxy[] = [];
  private readonly clients: BucketClient[] = [];
  private readonly stores: S3Store[] = [];

  async rig(o: RigOptions): Promise<Rig> {
    const proxy = new FaultProxy(o.faulty.endpoint);
    this.proxies.push(proxy);
    const proxyUrl = await proxy.start();
    const fromServer = o.role === 'source' ? o.faulty : o.healthy;
    const toServer = o.role === 'dest1' ? o.faulty : o.healthy;
    const src = await freshStore(fromServer, uniqueName(`${o.label}-src`));
    this.stores.push(src);
    const dst = await freshStore(toServer, uniqueName(`${o.label}-dst`));
    this.stores.push(dst);
    const through = (s: TestServer) => ({ ...s, endpoint: proxyUrl });
    const faultyIni = { ...o.ini, ...o.faultyIni };
    const configText =
      sectionIni(
        'source',
        o.role === 'source' ? through(fromServer) : fromServer,
        src.bucket,
        o.role === 'source' ? faultyIni : (o.ini ?? {}),
      ) +
      sectionIni(
        'dest1',
        o.role === 'dest1' ? through(toServer) : toServer,
        dst.bucket,
        o.role === 'dest1' ? faultyIni : (o.ini ?? {}),
      );
    const logs: string[] = [];
    const client = new BucketClient(parseConfig(configText, { file: 'fault-matrix.ini' }), {
      logger: createLogger({ level: 'debug', write: (l) => logs.push(l) }),
    });
    this.clients.push(client);
    return {
      role: o.role,
      faulty: o.faulty,
      proxy,
      proxyUrl,
      src,
      dst,
      faultyBucket: o.role === 'source' ? src.bucket : dst.bucket,
      configText,
      client,
      logs,
    };
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients) c.close();
    for (const p of this.proxies) await p.stop();
    for (const s of this.stores) await dropStore(s).catch(() => {});
  }
}

function uniqueName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 40);
  return `t-${clean}-${randomBytes(4).toString('hex')}`.replace(/-+/g, '-');
}

/** Objects of random bytes (so one flipped byte always shows), `size(i)` bytes each. */
export function makeObjects(prefix: string, count: number, size: (i: number) => number): Obj[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${prefix}${String(i).padStart(3, '0')}`,
    body: randomBytes(size(i)),
  }));
}

export function expectedOf(objects: readonly Obj[]): Map<string, Expected> {
  return new Map(objects.map((o) => [o.key, { size: o.body.length, md5: md5Hex(o.body) }]));
}

export async function seed(store: S3Store, objects: readonly Obj[]): Promise<void> {
  await putAll(store, objects, 8);
}

/**
 * What a user checks after recovery: the destination holds exactly these keys under
 * `prefix`, each byte-identical to the source (MD5 of a GET of each).
 */
export async function assertMirrored(
  dst: S3Store,
  objects: readonly Obj[],
  prefix: string,
  what: string,
): Promise<void> {
  const listed = (await listKeys(dst)).filter((o) => o.key.startsWith(prefix));
  assert.deepEqual(
    listed.map((o) => o.key),
    objects.map((o) => o.key).sort(),
    `${what}: the destination holds exactly the source's keys under ${prefix}`,
  );
  for (const o of objects) {
    const got = await readAll((await dst.get(o.key)).body);
    assert.equal(got.length, o.body.length, `${what}: ${o.key} has the source's size`);
    assert.equal(md5Hex(got), md5Hex(o.body), `${what}: ${o.key} is byte-identical to the source`);
  }
}

/** A sweep that copied everything it should and stopped for nothing. */
export function assertCleanReport(report: DuplicateReport, copied: number, what: string): void {
  const detail = JSON.stringify({
    aborted: report.aborted,
    failed: report.failed,
    failures: report.failures.slice(0, 5),
  });
  assert.equal(report.aborted, undefined, `${what}: the sweep was not stopped: ${detail}`);
  assert.deepEqual(report.failures, [], `${what}: no failures: ${detail}`);
  assert.equal(report.failed, 0, `${what}: failed = 0`);
  assert.equal(report.copied, copied, `${what}: every missing object copied: ${detail}`);
}

export function md5(buf: Buffer): string {
  return createHash('md5').update(buf).digest('hex');
}

// --- s3s3bucket as a user runs it ----------------------------------------------------

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const cliDir = mkdtempSync(join(tmpdir(), 's3s3-faults-'));
let configs = 0;

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs the built s3s3bucket with this config text and these arguments (needs `npm run build`). */
export function runBucketCli(configText: string, args: readonly string[] = [], timeoutMs = 60_000): Promise<CliRun> {
  const file = join(cliDir, `faults-${++configs}.ini`);
  writeFileSync(file, configText, { mode: 0o600 });
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, '--config', file, '--lock-file', join(cliDir, `faults-${configs}.lock`), ...args],
      {
        env: { PATH: process.env.PATH, HOME: cliDir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        cwd: cliDir,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : err.killed ? -1 : 1) : 0;
        resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
      },
    );
  });
}

/** The lines a user reads as errors (text log format). */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^s3s3 error:/.test(l));
}
