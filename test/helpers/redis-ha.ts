/**
 * A Redis that fails over, for tests: Sentinel (1 master, 2 replicas, 3 sentinels) or Cluster
 * (3 masters with 1 replica each), started by test/servers/redis-ha.sh in a directory of the
 * test's own. The helper kills the current master (SIGKILL by pid), waits until a replica is
 * promoted, and hands out the connection facts ioredis needs. It talks to the servers through
 * `redis-cli`, never through the client under test, so a client bug cannot hide a harness bug.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, '../servers/redis-ha.sh');

/** Which layout: Redis Sentinel or Redis Cluster. */
export type RedisHaMode = 'sentinel' | 'cluster';

/** One Redis process on loopback, as ioredis takes it (`sentinels`, cluster startup nodes). */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

/** How to start a layout. */
export interface RedisHaOptions {
  /** The data nodes' password (requirepass and masterauth); none when absent. */
  readonly password?: string;
  /** Sentinel only: the sentinels' own password, separate from the data nodes'. */
  readonly sentinelPassword?: string;
  /** Keep the state directory (configs, logs) after stop, to look at a failure. */
  readonly keepState?: boolean;
}

/** What ioredis' `new Redis({...})` needs to find the master through Sentinel. */
export interface SentinelFacts {
  readonly sentinels: RedisAddress[];
  readonly name: string;
  readonly password?: string;
  readonly sentinelPassword?: string;
}

/** What ioredis' `new Cluster(startupNodes, { redisOptions })` needs. */
export interface ClusterFacts {
  readonly startupNodes: RedisAddress[];
  readonly redisOptions: { readonly password?: string };
}

/** A node the helper SIGKILLed: where it was, its pid, and when (Date.now()). */
export interface KilledNode {
  readonly address: RedisAddress;
  readonly pid: number;
  readonly at: number;
  /** Cluster: the slot ranges it served when killed. */
  readonly slots?: Array<[number, number]>;
}

/** The outcome of a failover: the dead master, the promoted one, and how long promotion took. */
export interface Failover {
  readonly killed: KilledNode;
  readonly master: RedisAddress;
  /** From the SIGKILL until the layout agreed on the new master (every sentinel / every live node). */
  readonly ms: number;
}

/** One line of CLUSTER NODES. */
interface ClusterNode {
  readonly id: string;
  readonly address: RedisAddress;
  readonly flags: string[];
  readonly masterId: string | null;
  readonly connected: boolean;
  readonly slots: Array<[number, number]>;
}

/** `host:port` for messages and comparisons. */
export function addr(a: RedisAddress): string {
  return `${a.host}:${a.port}`;
}

function parseAddress(text: string): RedisAddress {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The CRC16 (XMODEM) of Redis Cluster's key hashing. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of a key (0..16383), honouring a `{hash tag}` as Redis does. */
export function keySlot(key: string): number {
  let bytes: Uint8Array = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % 16384;
}

/** Polls `check` every `everyMs` until it returns a value; throws with `what` and the last error after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `redis-ha: timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await sleep(everyMs);
  }
}

/** A running Sentinel or Cluster layout; `stop()` it in `after()` (also done at process exit). */
export class RedisHa {
  /** Processes killed by the helper and not restarted: never asked anything. */
  private readonly dead = new Set<string>();
  /** Pids SIGSTOPped by freeze(): continued before stopping. */
  private readonly frozen = new Set<number>();
  private stopped = false;
  private readonly onExit = (): void => this.stopSync();

  private constructor(
    /** Sentinel or Cluster. */
    readonly mode: RedisHaMode,
    /** Where the configs, logs and pid files are. */
    readonly stateDir: string,
    /** Every data node (for Sentinel the first is the initial master). */
    readonly nodes: RedisAddress[],
    /** Sentinel only: the sentinels. */
    readonly sentinels: RedisAddress[],
    /** Sentinel only: the monitored master's name. */
    readonly sentinelName: string,
    private readonly options: RedisHaOptions,
  ) {
    process.once('exit', this.onExit);
  }

  /** Starts a layout in a new directory (under S3S3TEST_STATE_DIR when set) and waits until it is ready. */
  static async start(mode: RedisHaMode, options: RedisHaOptions = {}): Promise<RedisHa> {
    const base = process.env.S3S3TEST_STATE_DIR ?? tmpdir();
    mkdirSync(base, { recursive: true });
    const dir = mkdtempSync(join(base, `redis-${mode}-`));
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDIS_HA_PASSWORD;
    delete env.REDIS_HA_SENTINEL_PASSWORD;
    if (options.password) env.REDIS_HA_PASSWORD = options.password;
    if (options.sentinelPassword) env.REDIS_HA_SENTINEL_PASSWORD = options.sentinelPassword;
    try {
      await new Promise<void>((ok, fail) =>
        execFile('bash', [SCRIPT, 'start', dir, mode], { env, timeout: 90_000 }, (err, _out, stderr) =>
          err ? fail(new Error(`redis-ha.sh start ${mode} failed: ${stderr.trim() || err.message}`)) : ok(),
        ),
      );
    } catch (err) {
      runStop(dir);
      if (!options.keepState) rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const e = readEnvFile(join(dir, 'env'));
    const list = (v: string | undefined) => (v ? v.split(',').map(parseAddress) : []);
    return new RedisHa(
      mode,
      dir,
      list(e.REDIS_HA_NODES),
      list(e.REDIS_SENTINELS),
      e.REDIS_SENTINEL_NAME ?? '',
      options,
    );
  }

  /** The options for ioredis' Sentinel mode: `new Redis({ ...ha.sentinelFacts(), ...yours })`. */
  sentinelFacts(): SentinelFacts {
    if (this.mode !== 'sentinel') throw new Error('redis-ha: sentinelFacts() on a cluster layout');
    return {
      sentinels: this.sentinels.map((s) => ({ ...s })),
      name: this.sentinelName,
      ...(this.options.password ? { password: this.options.password } : {}),
      ...(this.options.sentinelPassword ? { sentinelPassword: this.options.sentinelPassword } : {}),
    };
  }

  /** The arguments for ioredis' Cluster: `new Cluster(f.startupNodes, { redisOptions: f.redisOptions })`. */
  clusterFacts(): ClusterFacts {
    if (this.mode !== 'cluster') throw new Error('redis-ha: clusterFacts() on a sentinel layout');
    return {
      startupNodes: this.nodes.map((n) => ({ ...n })),
      redisOptions: this.options.password ? { password: this.options.password } : {},
    };
  }

  /** Runs redis-cli against a data node (or a sentinel) and returns its raw output lines. */
  async cli(node: RedisAddress, args: string[], sentinel = false): Promise<string[]> {
    const password = sentinel ? this.options.sentinelPassword : this.options.password;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDISCLI_AUTH;
    if (password) env.REDISCLI_AUTH = password;
    const out = await new Promise<string>((ok, fail) =>
      execFile(
        'redis-cli',
        ['-h', node.host, '-p', String(node.port), ...args],
        { env, timeout: 5000 },
        (err, stdout, stderr) =>
          err
            ? fail(new Error(`redis-cli ${addr(node)} ${args.join(' ')}: ${stderr.trim() || err.message}`))
            : ok(stdout),
      ),
    );
    const lines = out.replace(/\r/g, '').replace(/\n$/, '').split('\n');
    // redis-cli exits 0 on a Redis error reply and prints it as is (ERR, NOAUTH, LOADING, ...).
    if (/^[A-Z]+ /.test(lines[0] ?? '') && !args[0]?.toLowerCase().startsWith('info'))
      throw new Error(`redis-cli ${addr(node)} ${args.join(' ')}: ${lines[0]}`);
    return lines;
  }

  /** A node's `INFO <section>` as a map. */
  async info(node: RedisAddress, section: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const lines = await this.cli(node, ['info', section]);
    if (!lines.some((l) => l.startsWith('# '))) throw new Error(`redis-cli ${addr(node)} info: ${lines[0]}`);
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  private alive(list: RedisAddress[]): RedisAddress[] {
    return list.filter((n) => !this.dead.has(addr(n)));
  }

  /** Sentinel: the master every answering sentinel names; undefined while they disagree or none answers. */
  private async sentinelMaster(): Promise<RedisAddress | undefined> {
    const seen = new Set<string>();
    for (const s of this.alive(this.sentinels)) {
      try {
        const [host, port] = await this.cli(s, ['sentinel', 'get-master-addr-by-name', this.sentinelName], true);
        if (host && port) seen.add(`${host}:${port}`);
      } catch {
        // a sentinel that does not answer has no say
      }
    }
    return seen.size === 1 ? parseAddress([...seen][0]!) : undefined;
  }

  /** Cluster: CLUSTER NODES as the first live node that answers sees it. */
  async clusterNodes(): Promise<ClusterNode[]> {
    let last: unknown;
    for (const n of this.alive(this.nodes)) {
      try {
        return parseClusterNodes(await this.cli(n, ['cluster', 'nodes']));
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`redis-ha: no cluster node answers: ${String(last)}`);
  }

  /** The current master: for Sentinel the one the sentinels agree on; for Cluster the owner of `slot` (default 0). */
  async master(slot = 0): Promise<RedisAddress> {
    if (this.mode === 'sentinel')
      return waitUntil('the sentinels to agree on a master', () => this.sentinelMaster(), 10_000);
    const owner = (await this.clusterNodes()).find(
      (n) => n.flags.includes('master') && n.slots.some(([a, b]) => slot >= a && slot <= b),
    );
    if (!owner) throw new Error(`redis-ha: no master serves slot ${slot}`);
    return owner.address;
  }

  /** Every master of the cluster with its slot ranges (Cluster only). */
  async clusterMasters(): Promise<Array<{ address: RedisAddress; slots: Array<[number, number]> }>> {
    return (await this.clusterNodes())
      .filter((n) => n.flags.includes('master') && !n.flags.some((f) => f.startsWith('fail')) && n.slots.length > 0)
      .map((n) => ({ address: n.address, slots: n.slots }));
  }

  /** SIGKILLs one node (its pid from INFO server); it stays dead until restart(). */
  async kill(node: RedisAddress): Promise<KilledNode> {
    const slots =
      this.mode === 'cluster'
        ? (await this.clusterNodes()).find((n) => addr(n.address) === addr(node))?.slots
        : undefined;
    const sentinel = this.sentinels.some((s) => addr(s) === addr(node));
    const lines = await this.cli(node, ['info', 'server'], sentinel);
    const pid = Number(lines.find((l) => l.startsWith('process_id:'))?.slice('process_id:'.length));
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`redis-ha: no process_id from ${addr(node)}`);
    process.kill(pid, 'SIGKILL');
    const at = Date.now();
    this.dead.add(addr(node));
    return { address: node, pid, at, ...(slots?.length ? { slots } : {}) };
  }

  /**
   * SIGSTOPs a node (it keeps its sockets but answers nothing, as a hung or partitioned
   * replica); the returned function SIGCONTs it (also done by stop()).
   */
  async freeze(node: RedisAddress): Promise<() => void> {
    const lines = await this.cli(node, ['info', 'server']);
    const pid = Number(lines.find((l) => l.startsWith('process_id:'))?.slice('process_id:'.length));
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`redis-ha: no process_id from ${addr(node)}`);
    process.kill(pid, 'SIGSTOP');
    this.frozen.add(pid);
    return () => {
      if (!this.frozen.delete(pid)) return;
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    };
  }

  /** The data nodes that are replicas now (Sentinel: of the master; Cluster: of any master). */
  async replicas(): Promise<RedisAddress[]> {
    const out: RedisAddress[] = [];
    for (const n of this.nodes) {
      if (this.dead.has(addr(n))) continue;
      const info = await this.info(n, 'replication').catch(() => undefined);
      if (info?.role === 'slave') out.push(n);
    }
    return out;
  }

  /** SIGKILLs the current master (for Cluster: the one serving `key`'s slot, or slot 0). */
  async killMaster(key?: string): Promise<KilledNode> {
    return this.kill(await this.master(key === undefined ? 0 : keySlot(key)));
  }

  /**
   * Waits until a replica of `killed` is the master everyone agrees on: Sentinel, every live
   * sentinel names it and it answers ROLE as master; Cluster, every live node has
   * cluster_state:ok and a live master (not `killed`) serves the slots `killed` had.
   */
  async waitForNewMaster(killed: KilledNode, timeoutMs = 20_000): Promise<Failover> {
    const master =
      this.mode === 'sentinel'
        ? await waitUntil(
            `a master other than ${addr(killed.address)}`,
            () => this.promotedBySentinel(killed),
            timeoutMs,
          )
        : await waitUntil(
            `a replica of ${addr(killed.address)} promoted`,
            () => this.promotedInCluster(killed),
            timeoutMs,
          );
    return { killed, master, ms: Date.now() - killed.at };
  }

  /** killMaster() then waitForNewMaster(). */
  async failover(key?: string, timeoutMs = 20_000): Promise<Failover> {
    return this.waitForNewMaster(await this.killMaster(key), timeoutMs);
  }

  private async promotedBySentinel(killed: KilledNode): Promise<RedisAddress | undefined> {
    const m = await this.sentinelMaster();
    if (!m || addr(m) === addr(killed.address)) return undefined;
    const role = await this.cli(m, ['role']);
    return role[0] === 'master' ? m : undefined;
  }

  private async promotedInCluster(killed: KilledNode): Promise<RedisAddress | undefined> {
    const live = this.alive(this.nodes);
    for (const n of live) {
      const info = await this.cli(n, ['cluster', 'info']);
      if (!info.includes('cluster_state:ok')) return undefined;
    }
    const first = killed.slots?.[0]?.[0];
    if (first === undefined) throw new Error(`redis-ha: ${addr(killed.address)} was not a master with slots`);
    const owner = (await this.clusterNodes()).find(
      (n) => n.flags.includes('master') && n.connected && n.slots.some(([a, b]) => first >= a && first <= b),
    );
    if (!owner || addr(owner.address) === addr(killed.address)) return undefined;
    return live.some((l) => addr(l) === addr(owner.address)) ? owner.address : undefined;
  }

  /**
   * Starts a killed node again from its config file and waits until it is back. A Sentinel data
   * node comes back as a replica of the current master (as an operator would restart it: without
   * that it would serve as a master until the sentinels convert it); a Cluster node rejoins from
   * its nodes.conf and becomes a replica of the node that took its slots.
   */
  async restart(node: RedisAddress, timeoutMs = 20_000): Promise<void> {
    const sentinel = this.sentinels.some((s) => addr(s) === addr(node));
    const role = sentinel ? 'sentinel' : this.mode === 'sentinel' ? 'data' : 'cluster';
    const conf = join(this.stateDir, `${role}-${node.port}`, 'redis.conf');
    const args = [conf];
    if (sentinel) args.push('--sentinel');
    else if (this.mode === 'sentinel') {
      const m = await this.master();
      args.push('--replicaof', m.host, String(m.port));
    }
    execFileSync('redis-server', args, { stdio: 'ignore' });
    this.dead.delete(addr(node));
    await waitUntil(
      `${addr(node)} back`,
      async () => {
        if (sentinel) return (await this.cli(node, ['ping'], true))[0] === 'PONG' ? true : undefined;
        const info = await this.info(node, 'replication');
        return info.role === 'slave' && info.master_link_status === 'up' ? true : undefined;
      },
      timeoutMs,
    );
  }

  /** Stops every process of the layout (killed ones included) and removes the state unless keepState. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.thaw();
    await new Promise<void>((ok) => execFile('bash', [SCRIPT, 'stop', this.stateDir], () => ok()));
    this.finish();
  }

  private stopSync(): void {
    if (this.stopped) return;
    this.thaw();
    runStop(this.stateDir);
    this.finish();
  }

  private thaw(): void {
    for (const pid of this.frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    this.frozen.clear();
  }

  private finish(): void {
    this.stopped = true;
    process.removeListener('exit', this.onExit);
    if (!this.options.keepState) rmSync(this.stateDir, { recursive: true, force: true });
  }
}

function runStop(dir: string): void {
  try {
    execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    // best effort: the servers are throwaway
  }
}

function parseClusterNodes(lines: string[]): ClusterNode[] {
  return lines
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const f = line.trim().split(/\s+/);
      const slots: Array<[number, number]> = [];
      for (const s of f.slice(8)) {
        if (s.startsWith('[')) continue; // a slot being migrated or imported
        const [a, b] = s.split('-');
        slots.push([Number(a), Number(b ?? a)]);
      }
      return {
        id: f[0]!,
        address: parseAddress(f[1]!.split('@')[0]!),
        flags: f[2]!.split(','),
        masterId: f[3] === '-' ? null : f[3]!,
        connected: f[7] === 'connected',
        slots,
      };
    });
}
