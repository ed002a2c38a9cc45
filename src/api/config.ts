/**
 * The configuration: find the file, read it, overlay the environment, validate everything
 * at once and return a frozen object. Every problem names the file, section and key.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DURATION_HINT, parseDuration } from './duration.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { parseIni, type IniDocument } from './ini-file.js';
import { hideSecrets } from './redact.js';

export type SignatureVersion = 'v4' | 'v2';
export type ChecksumMode = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';

/** The kind of store a section names (`type`): an S3 bucket, or a Swift container over Swift's own API. */
export type EndpointType = 's3' | 'swift';

/** How to reach a Swift container (`type = swift`): auth v1 (tempauth, Cloud Files) or Keystone v3. */
export interface SwiftConfig {
  /** `auth_url`, as written: `.../auth/v1.0` (v1) or `.../v3` (Keystone). */
  readonly authUrl: string;
  readonly authVersion: 1 | 3;
  /** `user` (v1, e.g. `account:user`) or `username` (v3). */
  readonly user: string;
  /** `key` (v1) or `password` (v3). Non-enumerable: never printed. */
  readonly secret: string;
  /** Keystone v3 only: the project scope and the domains. */
  readonly projectName?: string;
  readonly userDomainName?: string;
  readonly projectDomainName?: string;
  /** Keystone v3: which region's object-store endpoint to take from the catalog; undefined: the first. */
  readonly region?: string;
  /** `storage_url`: used instead of the one the auth service names. */
  readonly storageUrl?: string;
}

/** One bucket (or Swift container) and how to reach it: the `[source]` section or a `[dest*]` section. */
export interface EndpointConfig {
  /** The INI section this came from (`source`, `dest1`, ...). */
  readonly name: string;
  /** `type`: `s3` (the default) or `swift`. */
  readonly type: EndpointType;
  /** Set for `type = swift`: auth and storage URLs; `bucket` is then the container. */
  readonly swift?: SwiftConfig;
  /** The bucket (S3) or container (Swift). */
  readonly bucket: string;
  readonly accessKeyId: string;
  /** Non-enumerable: readable, but never printed by inspect, console.log or JSON.stringify. */
  readonly secretAccessKey: string;
  /**
   * Scheme, host and port, e.g. `https://s3.amazonaws.com` or `http://127.0.0.1:7480`; for
   * Swift the `storage_url` when set, else the `auth_url` (for messages and lock names).
   */
  readonly endpoint: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly signatureVersion: SignatureVersion;
  readonly requestChecksumCalculation: ChecksumMode;
  readonly responseChecksumValidation: ChecksumMode;
  /**
   * `lean_requests` (default true): HEAD, GET, PUT and DELETE of one object go through s3s3's
   * own HTTP path; false sends them through the AWS SDK like every other call.
   */
  readonly leanRequests: boolean;
  readonly listObjectsVersion: 1 | 2;
  readonly multipartThreshold: number;
  readonly multipartChunksize: number;
  readonly concurrency: number;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly verifyMd5: boolean;
  /** Record the source ETag and MD5 as `x-amz-meta-s3s3-*` on every copy. */
  readonly recordMetadata: boolean;
  /** Keys asked for per listing page (`list_page_size`, 1-1000; Swift 1-10000). */
  readonly listPageSize: number;
  /** Key ranges listed at once in a sweep (`list_parallel`, 1-64; 1 = one listing after the other). */
  readonly listParallel: number;
  /** Ask listings for `encoding-type=url` and decode the keys (`list_url_encoding`). */
  readonly listUrlEncoding: boolean;
  /** Retries of a call without a body (list, head, delete) before it fails (`max_retries`). */
  readonly maxRetries: number;
  /** PEM text of the CAs trusted for this endpoint only (`ca_bundle`, read at start). */
  readonly caBundle?: string;
  /** False: accept any certificate (`verify_ssl = false`; warned about at start). */
  readonly verifySsl: boolean;
  /**
   * Key prefix of this section (`prefix`): in `[source]` it selects and is stripped, in a
   * destination it is added, so `images/a.jpg` -> `avatar/a.jpg` (a prefix move). '' for none.
   */
  readonly prefix: string;
  /** `delete` in a destination: true/false as set, undefined when not set (then `--delete` decides). */
  readonly delete?: boolean;
  /** `delete_mode`: remove the object, or move it under `trash_prefix` first. */
  readonly deleteMode: 'delete' | 'trash';
  /** `trash_prefix`; undefined: `.s3s3-trash/<UTC date>/` at the bucket root. */
  readonly trashPrefix?: string;
  /** `max_delete`: most deletes one sweep may make here, as a count or a percentage of the listed keys. */
  readonly maxDelete?: MaxDelete;
}

/** A cap on the deletes of one sweep: `500` or `10%` (of the destination's in-scope keys). */
export type MaxDelete = { readonly count: number } | { readonly percent: number };

/** `N` or `P%`; undefined when neither. */
export function parseMaxDelete(value: string): MaxDelete | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return { count: Number(v) };
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(v);
  if (m && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  return undefined;
}

/** TLS settings for a `rediss://` URL (ioredis's `tls` option). */
export interface RedisTlsConfig {
  /** PEM text of the CAs trusted for Redis (`redis_ca_bundle`, read at start). */
  readonly ca?: string;
  /** False: accept any certificate (`redis_verify_ssl = false`; warned about at start). */
  readonly rejectUnauthorized: boolean;
}

export interface PubsubConfig {
  readonly redis: boolean;
  /**
   * Full Redis URL; may hold a password, so never log it: use `redisUrlRedacted`.
   * Non-enumerable, like every secret: printing the config never shows it.
   */
  readonly redisUrl: string;
  readonly redisUrlRedacted: string;
  /** Set for `rediss://` URLs only. */
  readonly redisTls?: RedisTlsConfig;
  readonly channel: string;
  readonly failedList: string;
  readonly pendingSet: string;
  /** Set the original s3s3's `backup=>KEY` marker once a key is everywhere. */
  readonly marker: boolean;
  /** Keys the listener copies at once (`concurrency`; default: the `[source]` concurrency). */
  readonly concurrency: number;
  /** How long the listener waits for copies in flight on SIGTERM (`shutdown_timeout`, a duration). */
  readonly shutdownTimeoutMs: number;
  /** Life of the sweep lock, renewed every third of it while the sweep runs (`lock_ttl`, a duration). */
  readonly lockTtlMs: number;
  /** The listener's CSV report (`report`), as `s3s3bucket --report`; undefined for none. */
  readonly report?: string;
  /** Rotate the report at this size (`report_max_size`, default 100M), keeping `report_keep` old files (default 5). */
  readonly reportMaxSize: number;
  readonly reportKeep: number;
  /**
   * `report_raw_keys` (default false): write keys and errors into the CSV report as they are;
   * false puts a `'` before a value starting with `=`, `+`, `-`, `@`, tab or CR (see report.ts).
   */
  readonly reportRawKeys: boolean;
  /** The BullMQ queue's name (`queue`); undefined: derived from the source and destination buckets. */
  readonly queue?: string;
  /** `s3s3bucket --enqueue` waits while more jobs than this wait (`max_queued`, default 10000). */
  readonly maxQueued: number;
  /** Failed jobs kept; past it the oldest are dropped with a log line (`failed_keep`, 0 = all, the default). */
  readonly failedKeep: number;
}

/** `[http]`: the daemon's HTTP surface (/metrics, /healthz, /readyz, /events, /queues). */
export interface HttpConfig {
  /** Address to listen on (`host`, default 127.0.0.1: loopback only). */
  readonly host: string;
  /** `port` (`S3S3_HTTP_PORT` overrides it, so each worker of a supervisor can have its own). */
  readonly port: number;
  /** `admin_token`: bull-board's actions need it (`Authorization: Bearer`); without it /queues is read-only. Non-enumerable. */
  readonly adminToken?: string;
  /** `events_token`: required on POST /events (Bearer or `?token=`) when set. Non-enumerable. */
  readonly eventsToken?: string;
}

/** `[notify]`: the run report of `s3s3bucket`, by mail and/or a webhook. */
export interface NotifyConfig {
  /** `mail_to`, split on commas; empty: no mail (a webhook only). */
  readonly mailTo: readonly string[];
  /** `mail_from`: the sender address (required with `mail_to`). */
  readonly mailFrom?: string;
  /** `smtp_url`: `smtp://` (STARTTLS when offered, required with a password) or `smtps://`. Non-enumerable: may hold a password. */
  readonly smtpUrl?: string;
  /** `smtp_url` with its password masked, for messages. */
  readonly smtpUrlRedacted?: string;
  /** `mail_when`: mail only when the run failed (default), or after every run. */
  readonly mailWhen: 'failure' | 'always';
  /** `subject`; `{outcome}`, `{source}` and `{host}` are filled in. Undefined: the default subject. */
  readonly subject?: string;
  /** `webhook_url`: the JSON summary is POSTed there. Non-enumerable: such URLs often carry a token. */
  readonly webhookUrl?: string;
  /** The webhook's scheme, host and port only, for messages. */
  readonly webhookUrlRedacted?: string;
  /** `webhook_when`: post after every run (default) or only when the run failed. */
  readonly webhookWhen: 'failure' | 'always';
  /** PEM text of the CAs trusted for the SMTP server and the webhook (`ca_bundle`). */
  readonly caBundle?: string;
  /** False: accept any certificate (`verify_ssl = false`; warned about at start). */
  readonly verifySsl: boolean;
}

export interface Config {
  /** The file read, or null when everything came from the environment. */
  readonly file: string | null;
  readonly source: EndpointConfig;
  readonly destinations: readonly EndpointConfig[];
  readonly pubsub: PubsubConfig;
  /** Undefined when there is no `[http]` section with a port. */
  readonly http?: HttpConfig;
  /** Undefined when there is no `[notify]` section (or it names nowhere to send to). */
  readonly notify?: NotifyConfig;
  readonly warnings: readonly ConfigProblem[];
}

export interface LoadConfigOptions {
  /** `--config FILE`; when given it must exist (no fallback to the search path). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Keys of a `type = swift` section that an S3 section does not take. */
const SWIFT_ONLY_KEYS = [
  'auth_url',
  'user',
  'key',
  'key_file',
  'username',
  'password',
  'password_file',
  'project_name',
  'user_domain_name',
  'project_domain_name',
  'container',
  'storage_url',
] as const;

/** Keys of an S3 section that a `type = swift` section does not take. */
const S3_ONLY_KEYS = [
  'aws_access_key_id',
  'aws_secret_access_key',
  'aws_access_key_id_file',
  'aws_secret_access_key_file',
  'bucket_name',
  'host',
  'port',
  'is_secure',
  'calling_format',
  'endpoint',
  'signature_version',
  'request_checksum_calculation',
  'response_checksum_validation',
  'list_objects_version',
  'list_url_encoding',
  'lean_requests',
] as const;

/** Keys both types of section take. */
const SHARED_ENDPOINT_KEYS = [
  'region',
  'multipart_threshold',
  'multipart_chunksize',
  'concurrency',
  'connect_timeout',
  'read_timeout',
  'verify_md5',
  'record_metadata',
  'list_page_size',
  'list_parallel',
  'max_retries',
  'ca_bundle',
  'verify_ssl',
  'prefix',
  'delete',
  'delete_mode',
  'trash_prefix',
  'max_delete',
  'type',
] as const;

const ENDPOINT_KEYS = [...S3_ONLY_KEYS, ...SHARED_ENDPOINT_KEYS, ...SWIFT_ONLY_KEYS] as const;

const PUBSUB_KEYS = [
  'redis',
  'redis_url',
  'host',
  'port',
  'db',
  'password',
  'channel',
  'sns',
  'failed_list',
  'pending_set',
  'marker',
  'concurrency',
  'shutdown_timeout',
  'lock_ttl',
  'redis_ca_bundle',
  'redis_verify_ssl',
  'password_file',
  'redis_url_file',
  'report',
  'report_max_size',
  'report_keep',
  'report_raw_keys',
  'queue',
  'max_queued',
  'failed_keep',
] as const;

const HTTP_KEYS = ['host', 'port', 'admin_token', 'admin_token_file', 'events_token', 'events_token_file'] as const;

const NOTIFY_KEYS = [
  'mail_to',
  'mail_from',
  'smtp_url',
  'smtp_url_file',
  'mail_when',
  'subject',
  'webhook_url',
  'webhook_url_file',
  'webhook_when',
  'ca_bundle',
  'verify_ssl',
] as const;

const ALL_KEYS: readonly string[] = [
  ...new Set<string>([...ENDPOINT_KEYS, ...PUBSUB_KEYS, ...HTTP_KEYS, ...NOTIFY_KEYS]),
];
const SECRET_KEYS = new Set([
  'aws_secret_access_key',
  'key',
  'password',
  'redis_url',
  'admin_token',
  'events_token',
  'smtp_url',
  'webhook_url',
]);
/** Keys that may instead be read from a file named by `<key>_file` (container and systemd secrets). */
const ENDPOINT_FILE_KEYS = {
  aws_access_key_id: 'access key id',
  aws_secret_access_key: 'secret access key',
  key: 'Swift key',
  password: 'Keystone password',
} as const;
const PUBSUB_FILE_KEYS = { password: 'Redis password', redis_url: 'Redis URL' } as const;
const HTTP_FILE_KEYS = { admin_token: 'admin token', events_token: 'events token' } as const;
const NOTIFY_FILE_KEYS = { smtp_url: 'SMTP URL', webhook_url: 'webhook URL' } as const;

/** The keys a section may hold. */
function keysOf(section: string): readonly string[] {
  return section === 'pubsub'
    ? PUBSUB_KEYS
    : section === 'http'
      ? HTTP_KEYS
      : section === 'notify'
        ? NOTIFY_KEYS
        : ENDPOINT_KEYS;
}

/** The files tried, in order, when no `--config` is given. */
export function configSearchPath(options: LoadConfigOptions = {}): string[] {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const home = options.home ?? homedir();
  const list: string[] = [];
  if (env.S3S3_CONFIG) list.push(resolve(cwd, env.S3S3_CONFIG));
  list.push(join(cwd, 's3s3.ini'), join(home, '.s3s3.ini'), '/usr/local/etc/s3s3.ini', '/etc/s3s3.ini');
  return list;
}

/** Find, read, overlay the environment, validate. Throws ConfigError listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  let file: string | null = null;
  let text = '';
  if (options.file !== undefined) {
    file = resolve(options.cwd ?? process.cwd(), options.file);
    text = readOrThrow(file);
  } else {
    const candidates = configSearchPath(options);
    file = candidates.find((f) => isFile(f)) ?? null;
    if (file !== null) {
      text = readOrThrow(file);
    } else if (!hasEnvConfig(env)) {
      throw new ConfigError([
        {
          file: 'config',
          message: `no config file found (looked in ${candidates.join(', ')}); pass --config FILE or copy s3s3.ini.dist to ./s3s3.ini`,
        },
      ]);
    }
  }
  const config = parseConfig(text, {
    file: file ?? 'environment',
    env,
    baseDir: file !== null ? dirname(file) : options.cwd,
  });
  const warnings = [...config.warnings];
  if (file !== null) warnings.push(...permissionWarnings(file, text));
  return Object.freeze({ ...config, file, warnings: Object.freeze(warnings) });
}

function readOrThrow(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new ConfigError([{ file, message: `cannot read config file: ${why}` }]);
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function hasEnvConfig(env: NodeJS.ProcessEnv): boolean {
  return Object.keys(env).some((k) => k.startsWith('S3S3_SOURCE_'));
}

function permissionWarnings(file: string, text: string): ConfigProblem[] {
  try {
    const mode = statSync(file).mode;
    const holdsSecret = parseIniSecrets(text);
    if ((mode & 0o004) !== 0 && holdsSecret) {
      return [
        {
          file,
          message: `is readable by every user and holds a secret; run: chmod 600 ${file} (or move secrets to S3S3_<SECTION>_<KEY> environment variables)`,
        },
      ];
    }
  } catch {
    // stat failed after a successful read: nothing useful to warn about.
  }
  return [];
}

function parseIniSecrets(text: string): boolean {
  const doc = parseIni(text);
  for (const section of doc.sections.values()) {
    for (const [key, entry] of section.entries) {
      if (SECRET_KEYS.has(key) && entry.value !== '' && !isPlaceholder(entry.value)) {
        if ((key === 'redis_url' || key === 'smtp_url') && !/\/\/[^/@]*:[^/@]+@/.test(entry.value)) continue;
        return true;
      }
    }
  }
  return false;
}

export interface ParseConfigOptions {
  /** Name to report problems under. */
  file: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Where relative paths in the file (`ca_bundle`, `*_file`) start from: the config file's
   * directory; default the current directory. Paths from the environment start from the latter.
   */
  baseDir?: string;
}

/**
 * One value and where it came from. `level` ranks sources for `<key>` against `<key>_file`:
 * 2 environment, 1 the section itself, 0 `[DEFAULT]`; the higher one wins, a tie is a problem.
 */
interface RawEntry {
  value: string;
  origin: string;
  level: number;
}
type Entries = Map<string, RawEntry>;
type Raw = Map<string, Entries>;

/** What every section reader shares: where to report, and where relative paths start. */
interface ReadContext {
  readonly file: string;
  readonly problems: ConfigProblem[];
  readonly warnings: ConfigProblem[];
  readonly baseDir: string;
}

/** Validate INI text plus environment overrides. Reads `env` and the files the config names (secrets, CA bundles). */
export function parseConfig(text: string, options: ParseConfigOptions): Config {
  const { file } = options;
  const env = options.env ?? {};
  const doc: IniDocument = parseIni(text);
  const problems: ConfigProblem[] = doc.problems.map((p) => ({
    file,
    section: p.section,
    key: p.key,
    message: p.message,
  }));
  const warnings: ConfigProblem[] = [];

  const raw: Raw = new Map();
  for (const section of doc.sections.values()) {
    const entries: Entries = new Map();
    for (const [key, e] of section.entries) entries.set(key, { value: e.value, origin: `${file}:${e.line}`, level: 1 });
    raw.set(section.name, entries);
  }
  applyEnv(raw, env);

  const defaults = raw.get('DEFAULT') ?? raw.get('defaults') ?? new Map();
  const sectionNames = [...raw.keys()].filter((s) => s !== 'DEFAULT' && s !== 'defaults');
  const destNames = sectionNames.filter((s) => s.toLowerCase().startsWith('dest')).sort(naturalCompare);

  for (const name of sectionNames) {
    const known =
      name === 'source' || name === 'pubsub' || name === 'http' || name === 'notify' || destNames.includes(name);
    if (!known) {
      const near = nearest(name, ['source', 'dest1', 'pubsub', 'http', 'notify']);
      warnings.push({
        file,
        section: name,
        message: `unknown section ignored${near ? `; did you mean [${near}]?` : ''}`,
      });
    }
  }
  for (const [sectionName, entries] of raw) {
    const allowed = keysOf(sectionName);
    const isKnownSection =
      sectionName === 'source' ||
      sectionName === 'pubsub' ||
      sectionName === 'http' ||
      sectionName === 'notify' ||
      destNames.includes(sectionName) ||
      sectionName === 'DEFAULT' ||
      sectionName === 'defaults';
    if (!isKnownSection) continue;
    for (const key of entries.keys()) {
      if (
        sectionName === 'DEFAULT' || sectionName === 'defaults'
          ? [...ENDPOINT_KEYS, ...PUBSUB_KEYS].includes(key as never)
          : allowed.includes(key)
      )
        continue;
      const near = nearest(key, allowed);
      warnings.push({
        file,
        section: sectionName,
        key,
        message: `unknown key ignored${near ? `; did you mean "${near}"?` : ''}`,
      });
    }
  }

  const sourceRaw = raw.get('source');
  if (!sourceRaw) {
    problems.push({
      file,
      section: 'source',
      message: 'missing section [source]: add it with bucket_name, aws_access_key_id and aws_secret_access_key',
    });
  }
  if (destNames.length === 0) {
    problems.push({
      file,
      section: 'dest1',
      message: 'no destination: add at least one section whose name starts with "dest", e.g. [dest1]',
    });
  }

  const ctx: ReadContext = { file, problems, warnings, baseDir: options.baseDir ?? process.cwd() };
  const source = sourceRaw ? readEndpoint('source', withDefaults(defaults, sourceRaw, 'source'), ctx) : undefined;
  const destinations = destNames.map((n) => readEndpoint(n, withDefaults(defaults, raw.get(n)!, n), ctx));

  // One bucket may hold a source and destinations only under prefixes that do not overlap
  // (a move inside one bucket); otherwise a copy would land where it is read from.
  const sections = [source, ...destinations].filter((e): e is EndpointConfig => e !== undefined);
  for (const [i, a] of sections.entries()) {
    for (const b of sections.slice(i + 1)) {
      if (a.endpoint !== b.endpoint || a.bucket !== b.bucket) continue;
      if (!a.prefix.startsWith(b.prefix) && !b.prefix.startsWith(a.prefix)) continue;
      const what = a.name === 'source' ? 'the source bucket itself' : `the same bucket as [${a.name}]`;
      const prefixes =
        a.prefix === '' && b.prefix === ''
          ? ''
          : ` under overlapping prefixes ${JSON.stringify(a.prefix)} and ${JSON.stringify(b.prefix)}`;
      problems.push({
        file,
        section: b.name,
        key: 'bucket_name',
        message: `is ${what} (${b.bucket} at ${b.endpoint})${prefixes}; use another bucket or endpoint, or prefixes that do not overlap (e.g. [${a.name}] prefix = old/ and [${b.name}] prefix = new/)`,
      });
    }
  }
  // A destination's trash must not lie where another section of the same bucket reads or writes:
  // a trashed object would be swept again (or, in the source's prefix, copied back).
  for (const d of destinations) {
    if (!d || (d.deleteMode !== 'trash' && d.trashPrefix === undefined)) continue;
    const trash = d.trashPrefix ?? '.s3s3-trash/';
    for (const other of sections) {
      if (other === d || other.endpoint !== d.endpoint || other.bucket !== d.bucket) continue;
      if (!trash.startsWith(other.prefix) && !other.prefix.startsWith(trash)) continue;
      problems.push({
        file,
        section: d.name,
        key: 'trash_prefix',
        message: `${JSON.stringify(trash)} overlaps the prefix ${JSON.stringify(other.prefix)} of [${other.name}] in the same bucket (${d.bucket} at ${d.endpoint}): trashed objects would be read again; choose a trash_prefix outside it`,
      });
    }
  }

  const pubsub = readPubsub(raw.get('pubsub'), ctx, source?.concurrency ?? 16);
  const http = raw.has('http') ? readHttp(raw.get('http')!, ctx) : undefined;
  const notify = raw.has('notify') ? readNotify(raw.get('notify')!, ctx) : undefined;

  if (problems.length > 0 || !source || destinations.some((d) => d === undefined) || !pubsub) {
    throw new ConfigError(problems, warnings);
  }
  return Object.freeze({
    file,
    source,
    destinations: Object.freeze(destinations as EndpointConfig[]),
    pubsub,
    ...(http ? { http } : {}),
    ...(notify ? { notify } : {}),
    warnings: Object.freeze(warnings),
  });
}

/** `S3S3_<SECTION>_<KEY>` wins over the file; the key is the longest known key that ends the name. */
function applyEnv(raw: Raw, env: NodeJS.ProcessEnv): void {
  const byLength = [...ALL_KEYS].sort((a, b) => b.length - a.length);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('S3S3_') || value === undefined) continue;
    const rest = name.slice(5).toLowerCase();
    const key = byLength.find((k) => rest.endsWith('_' + k));
    if (!key) continue;
    const envSection = rest.slice(0, rest.length - key.length - 1);
    if (envSection === '') continue;
    // Match an existing section whose name normalises to the same form, so [dest-eu] takes S3S3_DEST_EU_*.
    const section =
      [...raw.keys()].find((s) => s.toLowerCase().replace(/[^a-z0-9]/g, '_') === envSection) ?? envSection;
    if (!raw.has(section)) raw.set(section, new Map());
    raw.get(section)!.set(key, { value: value.trim(), origin: `environment ${name}`, level: 2 });
  }
}

function withDefaults(defaults: Entries, section: Entries, name: string): Entries {
  const merged: Entries = new Map();
  const allowed = keysOf(name);
  for (const [k, v] of defaults) if (allowed.includes(k)) merged.set(k, { ...v, level: 0 });
  for (const [k, v] of section) merged.set(k, v);
  return merged;
}

function isPlaceholder(value: string): boolean {
  return /^\{[A-Za-z0-9_ -]+\}$/.test(value) || /\{YOUR_[A-Z0-9_]*\}/.test(value);
}

class Reader {
  /** Keys whose `<key>_file` could not be read: already reported, so not "missing" too. */
  private readonly unreadable = new Set<string>();

  constructor(
    private readonly entries: Entries,
    private readonly ctx: ReadContext,
    private readonly section: string,
  ) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Where a key's value comes from: 2 environment, 1 the section, 0 `[DEFAULT]`. */
  level(key: string): number {
    return this.entries.get(key)?.level ?? -1;
  }

  /** Forget a key (one from `[DEFAULT]` that does not apply to this section). */
  drop(key: string): void {
    this.entries.delete(key);
  }

  problemCount(): number {
    return this.ctx.problems.length;
  }

  private where(key: string | undefined): string {
    const origin = key ? this.entries.get(key)?.origin : undefined;
    return origin?.startsWith('environment') ? origin : this.ctx.file;
  }

  problem(key: string | undefined, message: string): void {
    this.ctx.problems.push({ file: this.where(key), section: this.section, key, message });
  }

  warn(key: string | undefined, message: string): void {
    this.ctx.warnings.push({ file: this.where(key), section: this.section, key, message });
  }

  /**
   * `<key>_file = PATH`: read PATH now (trailing newline dropped) and use it as `<key>`.
   * Setting both is a problem, unless one is set at a higher level (the environment over the
   * file, a section over `[DEFAULT]`), which then wins. The file's text is never echoed.
   */
  fromFile(key: string, what: string): void {
    const fileKey = `${key}_file`;
    const viaFile = this.entries.get(fileKey);
    if (!viaFile) return;
    const direct = this.entries.get(key);
    if (direct && direct.level === viaFile.level) {
      this.problem(fileKey, `conflicts with "${key}" (${direct.origin}); set either ${key} or ${fileKey}, not both`);
      return;
    }
    if (direct && direct.level > viaFile.level) return;
    const text = this.readFile(fileKey, what);
    if (text !== undefined && /[\r\n]/.test(text))
      this.problem(fileKey, `${this.path(fileKey)} holds more than one line; put only the ${what} in it`);
    if (text === undefined || /[\r\n]/.test(text)) {
      this.entries.delete(key);
      this.unreadable.add(key);
      return;
    }
    this.entries.set(key, { value: text, origin: viaFile.origin, level: viaFile.level });
  }

  /** The absolute path a path-valued key names (relative: to the config file, or cwd for the environment). */
  private path(key: string): string {
    const e = this.entries.get(key)!;
    return resolve(e.origin.startsWith('environment') ? process.cwd() : this.ctx.baseDir, e.value);
  }

  /** The text of the file `key` names, read once now, trailing newlines dropped; undefined after a problem. */
  readFile(key: string, what: string): string | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    if (value === '') {
      this.problem(key, `is empty: set it to the path of the file holding the ${what}, or remove it`);
      return undefined;
    }
    const path = this.path(key);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      this.problem(key, `cannot read ${path}: ${readFailure(err, what)}`);
      return undefined;
    }
    text = text.replace(/(\r?\n)+$/, '');
    if (text.trim() === '') {
      this.problem(key, `${path} is empty; put the ${what} in it`);
      return undefined;
    }
    return text;
  }

  /** A PEM bundle of CA certificates (`ca_bundle`), each certificate checked now. */
  caBundle(key: string): string | undefined {
    const what = 'PEM certificates of the CA(s) to trust';
    const text = this.readFile(key, what);
    if (text === undefined) return undefined;
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (/PRIVATE KEY-----/.test(text)) {
      this.problem(key, `${this.path(key)} holds a private key; give only the CA certificate(s), never a key`);
      return undefined;
    }
    if (blocks.length === 0) {
      this.problem(key, `${this.path(key)} holds no "-----BEGIN CERTIFICATE-----" block; give the ${what}`);
      return undefined;
    }
    for (const [i, block] of blocks.entries()) {
      try {
        new X509Certificate(block);
      } catch (err) {
        this.problem(
          key,
          `certificate ${i + 1} in ${this.path(key)} cannot be read (${err instanceof Error ? err.message : String(err)}); give the ${what}`,
        );
        return undefined;
      }
    }
    return text + '\n';
  }

  string(key: string, fallback?: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return fallback;
    if (isPlaceholder(e.value)) {
      this.problem(key, `still holds the template placeholder ${e.value}; put the real value here`);
      return undefined;
    }
    return e.value;
  }

  required(key: string, what: string): string | undefined {
    if (this.unreadable.has(key)) return undefined;
    const v = this.string(key);
    const orFile =
      key in ENDPOINT_FILE_KEYS || key in PUBSUB_FILE_KEYS || key in HTTP_FILE_KEYS || key in NOTIFY_FILE_KEYS
        ? ` (or ${key}_file = FILE holding it)`
        : '';
    if (v === undefined && !this.entries.has(key)) this.problem(key, `missing: set ${key} = <${what}>${orFile}`);
    else if (v === '') this.problem(key, `is empty: set it to the ${what}`);
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.string(key);
    if (v === undefined) return fallback;
    const b = parseBoolean(v);
    if (b === undefined) {
      this.problem(key, `"${v}" is not a boolean; use true/false, yes/no, on/off or 1/0`);
      return fallback;
    }
    return b;
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const v = this.string(key);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.problem(key, `"${v}" is not a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(v);
  }

  /** A duration key in the one grammar of `duration.ts` (`30`, `90s`, `15m`, `26h`, `7d`), as milliseconds; more than 0. */
  seconds(key: string, fallbackMs: number): number {
    const v = this.string(key);
    if (v === undefined) return fallbackMs;
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) {
      this.problem(key, `"${v}" is not ${DURATION_HINT}, greater than 0`);
      return fallbackMs;
    }
    return ms;
  }

  size(key: string, fallback: number, min: number, max: number): number {
    const v = this.string(key);
    if (v === undefined) return fallback;
    const n = parseSize(v);
    if (n === undefined || n < min || n > max) {
      this.problem(
        key,
        `"${v}" is not a size from ${formatSize(min)} to ${formatSize(max)} (bytes, or with K, M, G: e.g. 64M)`,
      );
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(key: string, choices: Record<string, T>, fallback: T): T {
    const v = this.string(key);
    if (v === undefined) return fallback;
    const hit = choices[v.toLowerCase()];
    if (hit === undefined) {
      this.problem(key, `"${v}" is not one of: ${Object.keys(choices).join(', ')}`);
      return fallback;
    }
    return hit;
  }
}

function readEndpoint(name: string, entries: Entries, ctx: ReadContext): EndpointConfig | undefined {
  const problems = ctx.problems;
  const before = problems.length;
  const r = new Reader(entries, ctx, name);
  const type = r.oneOf('type', { s3: 's3', swift: 'swift' }, 's3');
  keysOfOtherType(r, type);
  if (type === 'swift') return readSwift(name, r, before);
  for (const key of ['aws_access_key_id', 'aws_secret_access_key'] as const) r.fromFile(key, ENDPOINT_FILE_KEYS[key]);
  const bucket = r.required('bucket_name', 'bucket name');
  const accessKeyId = r.required('aws_access_key_id', 'access key id');
  const secretAccessKey = r.required('aws_secret_access_key', 'secret access key');

  let endpoint: string | undefined;
  if (r.has('endpoint')) {
    for (const k of ['host', 'port', 'is_secure']) {
      if (r.has(k)) r.problem(k, 'conflicts with "endpoint"; set either endpoint or host/port/is_secure');
    }
    const value = r.string('endpoint');
    if (value !== undefined) endpoint = normaliseEndpoint(value, (m) => r.problem('endpoint', m));
  } else {
    const secure = r.boolean('is_secure', true);
    const host = r.string('host', 's3.amazonaws.com') ?? 's3.amazonaws.com';
    const port = r.integer('port', secure ? 443 : 80, 1, 65535);
    if (host === '' || /[/\s]/.test(host))
      r.problem(
        'host',
        `"${host}" is not a host name; use e.g. host = s3.example.com, or endpoint = https://s3.example.com:8443`,
      );
    else {
      const defaultPort = secure ? 443 : 80;
      const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      endpoint = `${secure ? 'https' : 'http'}://${h}${port === defaultPort ? '' : `:${port}`}`;
    }
  }

  const callingFormat = r.string('calling_format');
  let forcePathStyle = true;
  if (callingFormat !== undefined) {
    const short = callingFormat.replace(/\(\)$/, '').split('.').pop()!.toLowerCase();
    if (short === 'ordinarycallingformat' || short === 'path') forcePathStyle = true;
    else if (short === 'subdomaincallingformat' || short === 'virtual') forcePathStyle = false;
    else
      r.problem(
        'calling_format',
        `"${callingFormat}" is not OrdinaryCallingFormat (path-style) or SubdomainCallingFormat (virtual-hosted)`,
      );
  }

  const checksum = { when_required: 'WHEN_REQUIRED', when_supported: 'WHEN_SUPPORTED' } as const;
  const result: EndpointConfig = {
    name,
    type,
    bucket: bucket ?? '',
    accessKeyId: accessKeyId ?? '',
    secretAccessKey: secretAccessKey ?? '',
    endpoint: endpoint ?? '',
    region: r.string('region', 'us-east-1') || 'us-east-1',
    forcePathStyle,
    signatureVersion: r.oneOf('signature_version', { s3v4: 'v4', v4: 'v4', s3: 'v2', v2: 'v2' }, 'v4'),
    requestChecksumCalculation: r.oneOf('request_checksum_calculation', checksum, 'WHEN_REQUIRED'),
    responseChecksumValidation: r.oneOf('response_checksum_validation', checksum, 'WHEN_REQUIRED'),
    leanRequests: r.boolean('lean_requests', true),
    listObjectsVersion: r.integer('list_objects_version', 2, 1, 2) === 1 ? 1 : 2,
    ...tuning(r, 1000),
    listUrlEncoding: r.boolean('list_url_encoding', true),
    ...endpointTls(r, endpoint),
    ...deletion(r, name),
  };
  if (bucket !== undefined && bucket !== '' && !/^[A-Za-z0-9._-]{1,255}$/.test(bucket)) {
    r.problem('bucket_name', `"${bucket}" is not a valid bucket name (letters, digits, ".", "-", "_")`);
  }
  return problems.length === before ? hideSecrets(result, ['secretAccessKey']) : undefined;
}

/** The keys both types share: sizes, concurrency, timeouts, checks and retries. */
function tuning(
  r: Reader,
  maxPageSize: number,
): Pick<
  EndpointConfig,
  | 'multipartThreshold'
  | 'multipartChunksize'
  | 'concurrency'
  | 'connectTimeoutMs'
  | 'readTimeoutMs'
  | 'verifyMd5'
  | 'recordMetadata'
  | 'listPageSize'
  | 'listParallel'
  | 'maxRetries'
> {
  return {
    multipartThreshold: r.size('multipart_threshold', 5 * GiB, 5 * MiB, 5 * GiB),
    multipartChunksize: r.size('multipart_chunksize', 64 * MiB, 5 * MiB, 5 * GiB),
    concurrency: r.integer('concurrency', 16, 1, 1024),
    connectTimeoutMs: r.seconds('connect_timeout', 10_000),
    readTimeoutMs: r.seconds('read_timeout', 60_000),
    verifyMd5: r.boolean('verify_md5', false),
    recordMetadata: r.boolean('record_metadata', true),
    listPageSize: r.integer('list_page_size', 1000, 1, maxPageSize),
    listParallel: r.integer('list_parallel', 4, 1, 64),
    maxRetries: r.integer('max_retries', 10, 0, 100),
  };
}

/** What an S3 key is called in a Swift section, for the hint. */
const SWIFT_EQUIVALENT: Readonly<Record<string, string>> = {
  bucket_name: 'container',
  aws_access_key_id: 'user (auth v1) or username (Keystone v3)',
  aws_access_key_id_file: 'user (auth v1) or username (Keystone v3)',
  aws_secret_access_key: 'key (auth v1) or password (Keystone v3)',
  aws_secret_access_key_file: 'key_file (auth v1) or password_file (Keystone v3)',
  endpoint: 'auth_url (and storage_url to override the storage URL)',
  host: 'auth_url',
  port: 'auth_url',
  is_secure: 'auth_url',
};

/**
 * Keys that belong to the other type: a problem when set in the section or the environment;
 * silently left out when they come from `[DEFAULT]` (meant for the sections of the other type).
 */
function keysOfOtherType(r: Reader, type: EndpointType): void {
  for (const key of type === 'swift' ? S3_ONLY_KEYS : SWIFT_ONLY_KEYS) {
    if (!r.has(key)) continue;
    if (r.level(key) === 0) {
      r.drop(key);
      continue;
    }
    if (type === 'swift') {
      const instead = SWIFT_EQUIVALENT[key];
      r.problem(
        key,
        `is for S3 sections; this section has type = swift${instead ? `: use ${instead}` : ', remove it'}`,
      );
    } else {
      r.problem(key, 'is for Swift sections: add type = swift to this section (or remove the key)');
    }
  }
}

const V1_KEYS = ['user', 'key', 'key_file'] as const;
const V3_KEYS = [
  'username',
  'password',
  'password_file',
  'project_name',
  'user_domain_name',
  'project_domain_name',
] as const;

/** 1 for `.../auth/v1.0` (tempauth, Cloud Files), 3 for Keystone `.../v3`; undefined after a problem. */
export function swiftAuthVersion(authUrl: string): 1 | 3 | undefined {
  let url: URL;
  try {
    url = new URL(authUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const path = url.pathname.replace(/\/+$/, '');
  if (/\/v3$/.test(path)) return 3;
  if (/\/v1(\.0)?$/.test(path)) return 1;
  return undefined;
}

/** `storage_url`: an http(s) URL with the account path (`.../v1/AUTH_account`), no query. */
function storageUrl(r: Reader): string | undefined {
  const value = r.string('storage_url');
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.search ||
    url.hash ||
    url.username ||
    url.password ||
    url.pathname.replace(/\/+$/, '') === ''
  ) {
    r.problem(
      'storage_url',
      `"${value}" is not a Swift storage URL; use e.g. storage_url = https://swift.example.com/v1/AUTH_account (or remove it to take the one auth_url names)`,
    );
    return undefined;
  }
  return value.replace(/\/+$/, '');
}

/** A `type = swift` section: a container reached through Swift's own API. */
function readSwift(name: string, r: Reader, before: number): EndpointConfig | undefined {
  const container = r.required('container', 'container name');
  if (container !== undefined && container !== '') {
    // Large objects put their segments in `<container>_segments`: that name must fit in 256 bytes too.
    if (container.includes('/') || Buffer.byteLength(container, 'utf8') > 247) {
      r.problem(
        'container',
        `"${container}" is not a usable container name: no "/", and at most 247 bytes (s3s3 adds "_segments" for the segments of large objects)`,
      );
    }
  }
  const authUrl = r.required(
    'auth_url',
    'auth URL, e.g. https://auth.example.com/auth/v1.0 or https://keystone.example.com/v3',
  );
  const version = authUrl ? swiftAuthVersion(authUrl) : undefined;
  if (authUrl && version === undefined) {
    r.problem(
      'auth_url',
      `"${authUrl}" is neither an auth v1 URL (http(s)://HOST/auth/v1.0, tempauth or Cloud Files) nor a Keystone v3 URL (http(s)://HOST/v3)`,
    );
  }
  const wrong = version === 1 ? V3_KEYS : version === 3 ? V1_KEYS : [];
  for (const key of wrong) {
    if (r.has(key) && r.level(key) > 0) {
      r.problem(
        key,
        version === 1
          ? 'is for Keystone v3 (an auth_url ending in /v3); auth v1 takes user and key'
          : 'is for auth v1 (an auth_url ending in /auth/v1.0); Keystone v3 takes username, password and project_name',
      );
    }
  }
  let user: string | undefined;
  let secret: string | undefined;
  let project: Pick<SwiftConfig, 'projectName' | 'userDomainName' | 'projectDomainName' | 'region'> = {};
  if (version === 1) {
    r.fromFile('key', ENDPOINT_FILE_KEYS.key);
    user = r.required('user', 'user, e.g. account:user');
    secret = r.required('key', 'key (the API key or password of user)');
  } else if (version === 3) {
    r.fromFile('password', ENDPOINT_FILE_KEYS.password);
    user = r.required('username', 'Keystone user name');
    secret = r.required('password', 'Keystone password');
    const projectName = r.required('project_name', 'Keystone project name');
    // A region from [DEFAULT] is an S3 region: only one set in this section (or its env) picks a catalog entry.
    const region = r.has('region') && r.level('region') > 0 ? r.string('region') : undefined;
    project = {
      projectName: projectName ?? '',
      userDomainName: r.string('user_domain_name', 'Default') || 'Default',
      projectDomainName: r.string('project_domain_name', 'Default') || 'Default',
      ...(region ? { region } : {}),
    };
  }
  if (version === 1 && r.has('region') && r.level('region') > 0)
    r.warn('region', 'is unused with auth v1 (it picks a region from a Keystone v3 catalog)');
  const storage = storageUrl(r);
  const endpoint = storage ?? authUrl ?? '';
  const secure = [authUrl, storage].find((u) => u?.startsWith('https:'));
  const swift: SwiftConfig = hideSecrets(
    {
      authUrl: authUrl ?? '',
      authVersion: version ?? 1,
      user: user ?? '',
      secret: secret ?? '',
      ...project,
      ...(storage ? { storageUrl: storage } : {}),
    },
    ['secret'],
  );
  const result: EndpointConfig = {
    name,
    type: 'swift',
    swift,
    bucket: container ?? '',
    accessKeyId: '',
    secretAccessKey: '',
    endpoint,
    region: project.region ?? '',
    forcePathStyle: true,
    signatureVersion: 'v4',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    leanRequests: true,
    listObjectsVersion: 2,
    // Swift lists up to 10,000 names a page (container_listing_limit).
    ...tuning(r, 10_000),
    listUrlEncoding: false,
    ...endpointTls(r, secure ?? endpoint),
    ...deletion(r, name),
  };
  return r.problemCount() === before ? hideSecrets(result, ['secretAccessKey']) : undefined;
}

/** `prefix`, and the destination-only keys that say how it deletes. */
function deletion(
  r: Reader,
  name: string,
): Pick<EndpointConfig, 'prefix' | 'delete' | 'deleteMode' | 'trashPrefix' | 'maxDelete'> {
  const prefix = r.string('prefix', '') ?? '';
  if (prefix.startsWith('/'))
    r.problem(
      'prefix',
      `"${prefix}" starts with "/": keys have no leading slash unless they hold one; write e.g. prefix = images/`,
    );
  if (Buffer.byteLength(prefix, 'utf8') >= 1024)
    r.problem('prefix', 'is 1024 bytes or longer: no key could fit under it');
  const isSource = name === 'source';
  if (isSource) {
    for (const k of ['delete', 'delete_mode', 'trash_prefix', 'max_delete']) {
      if (r.has(k)) r.problem(k, 'belongs in a [dest*] section: s3s3 never deletes or changes anything in the source');
    }
  }
  const del = r.has('delete') && !isSource ? r.boolean('delete', false) : undefined;
  const deleteMode = isSource ? 'delete' : r.oneOf('delete_mode', { delete: 'delete', trash: 'trash' }, 'delete');
  const trash = isSource ? undefined : r.string('trash_prefix');
  if (trash !== undefined && trash === '')
    r.problem('trash_prefix', 'is empty: give a prefix such as .s3s3-trash/ (or leave it out for the default)');
  let maxDelete: MaxDelete | undefined;
  const raw = isSource ? undefined : r.string('max_delete');
  if (raw !== undefined) {
    maxDelete = parseMaxDelete(raw);
    if (!maxDelete) r.problem('max_delete', `"${raw}" is not a count or a percentage (e.g. 500 or 10%)`);
  }
  return {
    prefix,
    ...(del !== undefined ? { delete: del } : {}),
    deleteMode,
    ...(trash ? { trashPrefix: trash } : {}),
    ...(maxDelete ? { maxDelete } : {}),
  };
}

/** `ca_bundle` and `verify_ssl`, with a warning when either does nothing or verification is off. */
function endpointTls(r: Reader, endpoint: string | undefined): { caBundle?: string; verifySsl: boolean } {
  const caBundle = r.caBundle('ca_bundle');
  const verifySsl = r.boolean('verify_ssl', true);
  const secure = endpoint?.startsWith('https:') ?? true;
  if (!secure) {
    if (r.has('ca_bundle'))
      r.warn(
        'ca_bundle',
        `is unused: the endpoint ${endpoint} is plain http://; it applies to https:// endpoints only`,
      );
    if (!verifySsl) r.warn('verify_ssl', `is unused: the endpoint ${endpoint} is plain http://`);
  } else if (!verifySsl) {
    r.warn(
      'verify_ssl',
      `= false: the TLS certificate of ${endpoint ?? 'the endpoint'} is NOT checked; anyone on the network path can read and change the data and the credentials. ` +
        `Trust the server's CA with ca_bundle = FILE instead${r.has('ca_bundle') ? ' (ca_bundle is ignored while verify_ssl = false)' : ''}`,
    );
  }
  return { ...(caBundle !== undefined ? { caBundle } : {}), verifySsl };
}

function readFailure(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `no such file; create it (holding the ${what}) or fix the path`;
  if (code === 'EACCES')
    return `permission denied; let the user s3s3 runs as${process.getuid ? ` (uid ${process.getuid()})` : ''} read it`;
  if (code === 'EISDIR') return `it is a directory; give the path of the file holding the ${what}`;
  return String(code ?? (err instanceof Error ? err.message : err));
}

function normaliseEndpoint(value: string, problem: (m: string) => void): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problem(`"${value}" is not a URL; use e.g. endpoint = https://s3.example.com or http://127.0.0.1:7480`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problem(`"${value}" must start with http:// or https://`);
    return undefined;
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.username || url.password) {
    problem(
      `"${value}" must be just scheme, host and port (no path, query or credentials); put the bucket in bucket_name`,
    );
    return undefined;
  }
  return url.origin;
}

function readPubsub(
  entries: Entries | undefined,
  ctx: ReadContext,
  sourceConcurrency: number,
): PubsubConfig | undefined {
  const problems = ctx.problems;
  const before = problems.length;
  const r = new Reader(entries ?? new Map(), ctx, 'pubsub');
  for (const [key, what] of Object.entries(PUBSUB_FILE_KEYS)) r.fromFile(key, what);
  const redis = r.boolean('redis', entries !== undefined);
  if (r.boolean('sns', false)) {
    r.problem('sns', 'SNS is not supported by s3s3; set sns = false and use redis = true');
  }
  let redisUrl = r.string('redis_url');
  if (redisUrl !== undefined) {
    for (const k of ['host', 'port', 'db', 'password'])
      if (r.has(k)) r.problem(k, 'conflicts with "redis_url"; set either redis_url or host/port/db/password');
    if (!/^rediss?:\/\//.test(redisUrl)) {
      r.problem('redis_url', 'must start with redis:// or rediss:// (e.g. redis://127.0.0.1:6379/0)');
    } else {
      try {
        new URL(redisUrl);
      } catch {
        r.problem('redis_url', 'is not a valid URL (e.g. redis://:password@127.0.0.1:6379/0)');
      }
    }
  } else {
    const host = r.string('host', '127.0.0.1') || '127.0.0.1';
    const port = r.integer('port', 6379, 1, 65535);
    const db = r.integer('db', 0, 0, 1_000_000);
    const password = r.string('password', '') ?? '';
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    redisUrl = `redis://${password ? `:${encodeURIComponent(password)}@` : ''}${h}:${port}/${db}`;
  }
  const result: PubsubConfig = {
    redis,
    redisUrl,
    redisUrlRedacted: redactUrl(redisUrl),
    ...redisTls(r, redisUrl),
    channel: r.string('channel', 'backup') || 'backup',
    failedList: r.string('failed_list', 's3s3:failed') || 's3s3:failed',
    pendingSet: r.string('pending_set', 's3s3:pending') || 's3s3:pending',
    marker: r.boolean('marker', true),
    concurrency: r.integer('concurrency', sourceConcurrency, 1, 1024),
    shutdownTimeoutMs: r.seconds('shutdown_timeout', 30_000),
    lockTtlMs: r.seconds('lock_ttl', 60_000),
    ...reportFile(r, ctx),
    reportMaxSize: r.size('report_max_size', 100 * MiB, 4096, 1024 * GiB),
    reportKeep: r.integer('report_keep', 5, 0, 1000),
    reportRawKeys: r.boolean('report_raw_keys', false),
    ...queueName(r),
    maxQueued: r.integer('max_queued', 10_000, 1, 100_000_000),
    failedKeep: r.integer('failed_keep', 0, 0, 1_000_000_000),
  };
  if (result.lockTtlMs < 3000)
    r.problem(
      'lock_ttl',
      `"${r.string('lock_ttl') ?? ''}" is too short; use at least 3s (the lock is renewed every third of it)`,
    );
  return problems.length === before ? hideSecrets(result, ['redisUrl']) : undefined;
}

/** `[http]`: off (undefined) without a port. Tokens may come from `<key>_file`. */
function readHttp(entries: Entries, ctx: ReadContext): HttpConfig | undefined {
  const before = ctx.problems.length;
  const r = new Reader(entries, ctx, 'http');
  for (const [key, what] of Object.entries(HTTP_FILE_KEYS)) r.fromFile(key, what);
  const host = r.string('host', '127.0.0.1') || '127.0.0.1';
  const port = r.has('port') ? r.integer('port', 0, 1, 65535) : undefined;
  const token = (key: string): string | undefined => {
    const v = r.string(key);
    if (v === undefined) return undefined;
    if (v.length < 16)
      r.problem(key, 'is shorter than 16 characters; use a long random token (e.g. openssl rand -hex 24)');
    return v;
  };
  const adminToken = token('admin_token');
  const eventsToken = token('events_token');
  if (port === undefined) {
    if (adminToken !== undefined || eventsToken !== undefined || r.has('host'))
      r.warn(undefined, 'has no port: the HTTP surface is off; set port = 9464 (or S3S3_HTTP_PORT) to turn it on');
    return undefined;
  }
  if (ctx.problems.length !== before) return undefined;
  const result: HttpConfig = {
    host,
    port,
    ...(adminToken !== undefined ? { adminToken } : {}),
    ...(eventsToken !== undefined ? { eventsToken } : {}),
  };
  return hideSecrets(result, ['adminToken', 'eventsToken']);
}

/**
 * `[notify]`: where the run report goes. Off (undefined) when it names neither `mail_to` nor
 * `webhook_url`. `smtp_url` and `webhook_url` may come from `<key>_file` or the environment.
 */
function readNotify(entries: Entries, ctx: ReadContext): NotifyConfig | undefined {
  const before = ctx.problems.length;
  const r = new Reader(entries, ctx, 'notify');
  for (const [key, what] of Object.entries(NOTIFY_FILE_KEYS)) r.fromFile(key, what);
  const mailTo = mailAddresses(r);
  const mailing = mailTo.length > 0;
  const mailFrom = r.string('mail_from');
  if (mailFrom !== undefined && !isMailAddress(mailFrom))
    r.problem(
      'mail_from',
      `"${mailFrom}" is not a mail address; use e.g. mail_from = s3s3@example.com or s3s3 <s3s3@example.com>`,
    );
  const smtpUrl = r.string('smtp_url');
  if (smtpUrl !== undefined) checkSmtpUrl(r, smtpUrl);
  if (mailing) {
    if (mailFrom === undefined && !r.has('mail_from'))
      r.problem('mail_from', 'missing: set mail_from = <the sender address> (e.g. s3s3@example.com): mail_to is set');
    if (smtpUrl === undefined && !r.has('smtp_url') && !r.has('smtp_url_file'))
      r.problem(
        'smtp_url',
        'missing: set smtp_url = smtp://HOST:587 (or smtps://USER:PASSWORD@HOST:465; or smtp_url_file = FILE holding it): mail_to is set',
      );
  } else {
    for (const k of ['mail_from', 'smtp_url', 'mail_when', 'subject'])
      if (r.has(k)) r.warn(k, 'is unused: no mail_to, so no mail is sent; set mail_to = ADDRESS[, ADDRESS...]');
  }
  const mailWhen = r.oneOf('mail_when', { failure: 'failure', always: 'always' }, 'failure');
  const subject = r.string('subject');
  if (subject !== undefined && (subject.trim() === '' || /[\r\n]/.test(subject)))
    r.problem('subject', 'must be one non-empty line; remove it for the default (it names the source and the outcome)');
  const webhookUrl = r.string('webhook_url');
  if (webhookUrl !== undefined) checkWebhookUrl(r, webhookUrl);
  const webhookWhen = r.oneOf('webhook_when', { failure: 'failure', always: 'always' }, 'always');
  if (webhookUrl === undefined && r.has('webhook_when')) r.warn('webhook_when', 'is unused: no webhook_url');
  const caBundle = r.caBundle('ca_bundle');
  const verifySsl = r.boolean('verify_ssl', true);
  const tlsUsed = (smtpUrl !== undefined && mailing) || (webhookUrl?.startsWith('https:') ?? false);
  if (!tlsUsed) {
    for (const k of ['ca_bundle', 'verify_ssl'])
      if (r.has(k))
        r.warn(
          k,
          'is unused: it applies to smtp_url (smtps://, or smtp:// with STARTTLS) and to an https:// webhook_url',
        );
  } else if (!verifySsl) {
    r.warn(
      'verify_ssl',
      '= false: the certificates of the SMTP server and the webhook are NOT checked; anyone on the network path can read the report and the SMTP password. Trust their CA with ca_bundle = FILE instead',
    );
  }
  if (!mailing && webhookUrl === undefined) {
    if (ctx.problems.length === before)
      r.warn(
        undefined,
        'has neither mail_to nor webhook_url: no report is sent; set one of them, or remove the section',
      );
    return undefined;
  }
  if (ctx.problems.length !== before) return undefined;
  const result: NotifyConfig = {
    mailTo: Object.freeze(mailTo),
    ...(mailing && mailFrom !== undefined ? { mailFrom } : {}),
    ...(mailing && smtpUrl !== undefined ? { smtpUrl, smtpUrlRedacted: redactUrl(smtpUrl) } : {}),
    mailWhen,
    ...(subject !== undefined ? { subject } : {}),
    ...(webhookUrl !== undefined ? { webhookUrl, webhookUrlRedacted: webhookOrigin(webhookUrl) } : {}),
    webhookWhen,
    ...(caBundle !== undefined ? { caBundle } : {}),
    verifySsl,
  };
  return hideSecrets(result, ['smtpUrl', 'webhookUrl']);
}

/** `mail_to`: addresses separated by commas, each checked; [] when not set. */
function mailAddresses(r: Reader): string[] {
  const value = r.string('mail_to');
  if (value === undefined) return [];
  const list = value
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (list.length === 0)
    r.problem(
      'mail_to',
      'is empty: give one or more addresses separated by commas (e.g. ops@example.com, oncall@example.com), or remove it',
    );
  for (const a of list)
    if (!isMailAddress(a))
      r.problem(
        'mail_to',
        `"${a}" is not a mail address; give addresses separated by commas (e.g. ops@example.com, oncall@example.com)`,
      );
  return list;
}

/** `user@domain`, or `Name <user@domain>`; no spaces, quotes or brackets inside the address. */
function isMailAddress(value: string): boolean {
  const m = /^[^<>]*<([^<>]+)>$/.exec(value.trim());
  return /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\.][^\s@<>()[\],;:"\\]*$/.test(m ? m[1]! : value.trim());
}

function checkSmtpUrl(r: Reader, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.problem(
      'smtp_url',
      'is not a URL; use e.g. smtp://mail.example.com:587 or smtps://USER:PASSWORD@mail.example.com:465 (percent-encode special characters of the password)',
    );
    return;
  }
  const shown = redactUrl(value);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    r.problem(
      'smtp_url',
      `${shown} must start with smtp:// (STARTTLS when the server offers it) or smtps:// (TLS from the start)`,
    );
  else if (url.hostname === '') r.problem('smtp_url', `${shown} names no host; use e.g. smtp://mail.example.com:587`);
  else if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash)
    r.problem('smtp_url', `${shown} must be just scheme, credentials, host and port (no path or query)`);
  else if (url.username !== '' && url.password === '')
    r.problem('smtp_url', `${shown} has a user but no password; use smtp://USER:PASSWORD@HOST:PORT`);
  else {
    try {
      decodeURIComponent(url.username);
      decodeURIComponent(url.password);
    } catch {
      r.problem(
        'smtp_url',
        `${shown}: the user or password holds a "%" that is not a valid percent-encoding; write % as %25`,
      );
    }
  }
}

function checkWebhookUrl(r: Reader, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    r.problem(
      'webhook_url',
      'is not an http:// or https:// URL; use e.g. webhook_url = https://hooks.example.com/s3s3',
    );
  }
}

/** A webhook URL as messages show it: scheme, host and port (the path often holds a token). */
function webhookOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? '/...' : '/'}`;
  } catch {
    return 'the webhook';
  }
}

/** `queue = NAME`: a BullMQ queue name may not hold ':' (BullMQ's own key separator). */
function queueName(r: Reader): { queue?: string } {
  const name = r.string('queue');
  if (name === undefined) return {};
  if (name === '' || name.includes(':')) {
    r.problem(
      'queue',
      `"${name}" is not a usable queue name: give a non-empty name without ':' (e.g. s3s3-photos), or remove the key for one derived from the buckets`,
    );
    return {};
  }
  return { queue: name };
}

/** `report = FILE`, relative to the config file's directory like the other paths. */
function reportFile(r: Reader, ctx: ReadContext): { report?: string } {
  const file = r.string('report');
  if (file === undefined) return {};
  if (file === '') {
    r.problem('report', 'is empty: give a file path (e.g. /var/log/s3s3/listen.csv), or remove the key');
    return {};
  }
  return { report: resolve(ctx.baseDir, file) };
}

/** `redis_ca_bundle` and `redis_verify_ssl`: used for `rediss://` only. */
function redisTls(r: Reader, redisUrl: string): { redisTls?: RedisTlsConfig } {
  const ca = r.caBundle('redis_ca_bundle');
  const verify = r.boolean('redis_verify_ssl', true);
  const redacted = redactUrl(redisUrl);
  if (!/^rediss:\/\//i.test(redisUrl)) {
    for (const key of ['redis_ca_bundle', 'redis_verify_ssl']) {
      if (r.has(key))
        r.warn(key, `is unused: ${redacted} is plain redis://; for TLS use redis_url = rediss://HOST:PORT/DB`);
    }
    return {};
  }
  if (!verify) {
    r.warn(
      'redis_verify_ssl',
      `= false: the TLS certificate of ${redacted} is NOT checked; anyone on the network path can read the password and the keys. ` +
        `Trust the server's CA with redis_ca_bundle = FILE instead${ca !== undefined ? ' (redis_ca_bundle is ignored while redis_verify_ssl = false)' : ''}`,
    );
  }
  return { redisTls: Object.freeze({ ...(ca !== undefined ? { ca } : {}), rejectUnauthorized: verify }) };
}

/** The URL with its password (or a lone user, which Redis reads as one) masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    else if (u.username) u.username = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/.*@/, '//***@');
  }
}

/** Python's strtobool, any case. */
export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (['y', 'yes', 't', 'true', 'on', '1'].includes(v)) return true;
  if (['n', 'no', 'f', 'false', 'off', '0'].includes(v)) return false;
  return undefined;
}

/** Bytes, or a number with K/M/G/T (binary multiples; KiB, MB and so on read the same). */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(value.trim());
  if (!m) return undefined;
  const unit = { '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * unit);
}

export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB}G`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}M`;
  return `${bytes}`;
}

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The closest candidate by edit distance, if it is close enough to be a likely typo. */
function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
