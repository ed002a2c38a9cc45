/**
 * The shapes a loaded configuration takes: one type per section, and per backend one type of
 * endpoint section (`S3EndpointConfig`, `SwiftEndpointConfig`) over the keys both share.
 * Which INI key fills which field, its default and range are in keys.ts.
 */
import type { ConfigProblem } from '../errors.js';
import type { Bandwidth } from './bandwidth.js';

/** `signature_version`: `v4` (SigV4, the default) or `v2` (HMAC-SHA1, for gateways without v4). */
export type SignatureVersion = 'v4' | 'v2';
/** `request_checksum_calculation` / `response_checksum_validation`, as the AWS SDK names them. */
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

/** `acl` in a destination: an S3 canned ACL each copy is written with, or `copy` (the source's read grants). */
export type AclSetting = 'private' | 'public-read' | 'authenticated-read' | 'bucket-owner-full-control' | 'copy';

/** A cap on the deletes of one sweep: `500` or `10%` (of the destination's in-scope keys). */
export type MaxDelete = { readonly count: number } | { readonly percent: number };

/**
 * What the copy layer needs of any endpoint section, whatever its backend: the tuning and
 * deletion keys both types take. A store's `settings` are exactly these fields (`settingsOf`),
 * so a key added here reaches the copy layer with no other change.
 */
export interface EndpointSettings {
  readonly multipartThreshold: number;
  readonly multipartChunksize: number;
  readonly concurrency: number;
  readonly verifyMd5: boolean;
  /** Record the source ETag and MD5 as `x-amz-meta-s3s3-*` on every copy. */
  readonly recordMetadata: boolean;
  /** Retries of a failed call or copy before it is reported failed (`max_retries`). */
  readonly maxRetries: number;
  /** Key ranges listed at once in a sweep (`list_parallel`, 1-64; 1 = one listing after the other). */
  readonly listParallel: number;
  /**
   * Key prefix of this section (`prefix`): in `[source]` it selects and is stripped, in a
   * destination it is added, so `images/a.jpg` -> `avatar/a.jpg` (a prefix move). '' for none.
   */
  readonly prefix: string;
  /** `delete` in a destination: true/false as set, undefined when not set (then `--delete` decides). */
  readonly delete?: boolean;
  /** `delete_mode`: remove the object, or move it under `trash_prefix` first. */
  readonly deleteMode: 'delete' | 'trash' | 'versions';
  /** `trash_prefix`; undefined: `.s3s3-trash/<UTC date>/` at the bucket root. */
  readonly trashPrefix?: string;
  /** `max_delete`: most deletes one sweep may make here, as a count or a percentage of the listed keys. */
  readonly maxDelete?: MaxDelete;
  /**
   * `storage_class` (S3 destinations): the class each copy is written in, or `copy` for the
   * source object's own; undefined: none sent.
   */
  readonly storageClass?: string;
  /** `acl` (S3 destinations): the canned ACL each copy is written with, or `copy`; undefined: none sent. */
  readonly acl?: AclSetting;
  /** `tags`: copy object tags with each object (default true). */
  readonly tags: boolean;
  /** `object_lock = copy` (S3 destinations): copies get the source's retention and legal hold. */
  readonly objectLock?: 'copy';
  /** `versions = true` (`[source]`, S3): every version is copied, in order. */
  readonly versions?: boolean;
}

/**
 * The fields of `EndpointSettings`, listed once for the code that copies them (`settingsOf`);
 * the `Record` type makes the compiler refuse a field missing here.
 */
export const ENDPOINT_SETTING_FIELDS = Object.freeze(
  Object.keys({
    multipartThreshold: true,
    multipartChunksize: true,
    concurrency: true,
    verifyMd5: true,
    recordMetadata: true,
    maxRetries: true,
    listParallel: true,
    prefix: true,
    delete: true,
    deleteMode: true,
    trashPrefix: true,
    maxDelete: true,
    storageClass: true,
    acl: true,
    tags: true,
    objectLock: true,
    versions: true,
  } satisfies Record<keyof EndpointSettings, true>) as (keyof EndpointSettings)[],
);

/** What every endpoint section has, S3 or Swift: where it is, and the shared tuning and deletion keys. */
export interface SharedEndpointConfig extends EndpointSettings {
  /** The INI section this came from (`source`, `dest1`, ...). */
  readonly name: string;
  /** `type`: `s3` (the default) or `swift`; tells the two endpoint types apart. */
  readonly type: EndpointType;
  /** The bucket (S3) or container (Swift). */
  readonly bucket: string;
  /**
   * Scheme, host and port, e.g. `https://s3.amazonaws.com` or `http://127.0.0.1:7480`; for
   * Swift the `storage_url` when set, else the `auth_url` (for messages and lock names).
   */
  readonly endpoint: string;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Keys asked for per listing page (`list_page_size`, 1-1000; Swift 1-10000). */
  readonly listPageSize: number;
  /** PEM text of the CAs trusted for this endpoint only (`ca_bundle`, read at start). */
  readonly caBundle?: string;
  /** False: accept any certificate (`verify_ssl = false`; warned about at start). */
  readonly verifySsl: boolean;
  /** `state_dir` (`[source]`): where upload records live without Redis; undefined: the default (uploads/journal.ts). */
  readonly stateDir?: string;
  /** `upload_ttl` (`[source]`): s3s3's own uploads older than this are aborted. */
  readonly uploadTtlMs: number;
  /** `bwlimit` (`[source]`): the bytes per second the process reads from the source; undefined: no limit. */
  readonly bwlimit?: Bandwidth;
  /** `tps_limit`: requests per second to this endpoint; undefined: no limit. */
  readonly tpsLimit?: number;
  /** `tps_burst`: requests let through at once under `tps_limit`. */
  readonly tpsBurst: number;
}

/** An S3 bucket (`type = s3`, the default): the `[source]` or a `[dest*]` section. */
export interface S3EndpointConfig extends SharedEndpointConfig {
  readonly type: 's3';
  readonly accessKeyId: string;
  /** Non-enumerable: readable, but never printed by inspect, console.log or JSON.stringify. */
  readonly secretAccessKey: string;
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
  /** Ask listings for `encoding-type=url` and decode the keys (`list_url_encoding`). */
  readonly listUrlEncoding: boolean;
}

/** A Swift container over Swift's own API (`type = swift`); `bucket` is the container. */
export interface SwiftEndpointConfig extends SharedEndpointConfig {
  readonly type: 'swift';
  /** Auth and storage URLs, the user and its secret. */
  readonly swift: SwiftConfig;
}

/** One bucket (or Swift container) and how to reach it: the `[source]` section or a `[dest*]` section. */
export type EndpointConfig = S3EndpointConfig | SwiftEndpointConfig;

/** TLS settings for a `rediss://` URL (ioredis's `tls` option). */
export interface RedisTlsConfig {
  /** PEM text of the CAs trusted for Redis (`redis_ca_bundle`, read at start). */
  readonly ca?: string;
  /** False: accept any certificate (`redis_verify_ssl = false`; warned about at start). */
  readonly rejectUnauthorized: boolean;
}

/** One Redis process as `host:port` (a sentinel, or a cluster node s3s3 starts from). */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/**
 * Where Redis is, as `[pubsub]` says it: one server (`redis_url`, or `host`/`port`/`db`), a
 * master found through Sentinel (`redis_sentinels`) or a Redis Cluster (`redis_cluster`).
 * `redacted` is the only form that may be printed; the URL and the passwords are
 * non-enumerable (printing the target never shows them).
 */
export type RedisTarget =
  | {
      readonly kind: 'server';
      /** May hold the password. */
      readonly url: string;
      readonly redacted: string;
      readonly tls?: RedisTlsConfig;
    }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisNode[];
      /** The master's name the sentinels monitor (`redis_sentinel_name`). */
      readonly name: string;
      readonly db: number;
      /** The data nodes' password (`password`). */
      readonly password?: string;
      /** The sentinels' own password (`redis_sentinel_password`). */
      readonly sentinelPassword?: string;
      readonly redacted: string;
      /** TLS to the sentinels and the data nodes (`redis_tls = true`). */
      readonly tls?: RedisTlsConfig;
    }
  | {
      readonly kind: 'cluster';
      /** The nodes to start from; the others are found through CLUSTER SLOTS. */
      readonly nodes: readonly RedisNode[];
      readonly password?: string;
      readonly redacted: string;
      readonly tls?: RedisTlsConfig;
    };

/** `[pubsub]`: Redis, the listener's channel and queue, the sweep lock and the listener's report. */
export interface PubsubConfig {
  readonly redis: boolean;
  /** Where Redis is: one server, Sentinel or Cluster. What every connection is built from. */
  readonly redisTarget: RedisTarget;
  /**
   * One server's full Redis URL ('' with Sentinel or Cluster: see `redisTarget`); may hold a
   * password, so never log it: use `redisUrlRedacted`.
   * Non-enumerable, like every secret: printing the config never shows it.
   */
  readonly redisUrl: string;
  /** How messages name Redis: the URL, password masked, or the Sentinel / Cluster nodes (`redisTarget.redacted`). */
  readonly redisUrlRedacted: string;
  /** TLS settings: for `rediss://` URLs, or the nodes of `redis_tls = true`. */
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
  /**
   * Replicas that must have each queued job and each lock write before it counts
   * (`redis_wait_replicas`, Redis `WAIT`; 0 = do not wait).
   */
  readonly waitReplicas: number;
  /** How long such a write waits for them (`redis_wait_timeout`, a duration, default 1s). */
  readonly waitTimeoutMs: number;
  /** The listener's CSV report (`report`), as `s3s3bucket --report`; undefined for none. */
  readonly report?: string;
  /** Rotate the report at this size (`report_max_size`, default 100M), keeping `report_keep` old files. */
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
  /** `lag_threshold` (default 15m): replication later than this is counted and, with `lag_events`, posted. */
  readonly lagThresholdMs: number;
}

/** `[http]`: the daemon's HTTP surface (/metrics, /healthz, /readyz, /events, /queues). */
export interface HttpConfig {
  /** Address to listen on (`host`, default 127.0.0.1: loopback only). */
  readonly host: string;
  /** `port` (`S3S3_HTTP_PORT` overrides it, so each worker of a supervisor can have its own). */
  readonly port: number;
  /**
   * `admin_token`: bull-board's actions need it (`Authorization: Bearer`); without it /queues is
   * read-only. Non-enumerable.
   */
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
  /**
   * `smtp_url`: `smtp://` (STARTTLS when offered, required with a password) or `smtps://`.
   * Non-enumerable: may hold a password.
   */
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
  /** `lag_events`: s3s3listen posts lag-threshold events to `webhookUrl`. */
  readonly lagEvents: boolean;
  /** PEM text of the CAs trusted for the SMTP server and the webhook (`ca_bundle`). */
  readonly caBundle?: string;
  /** False: accept any certificate (`verify_ssl = false`; warned about at start). */
  readonly verifySsl: boolean;
}

/** A whole configuration, validated and frozen. */
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

/** Where `loadConfig` looks, and the environment it overlays. */
export interface LoadConfigOptions {
  /** `--config FILE`; when given it must exist (no fallback to the search path). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Keys set by command-line flags: they win over the file and the environment. */
  overrides?: readonly ConfigOverride[];
  cwd?: string;
  home?: string;
}

/** One key a flag sets (`--tps-limit 50`: `tps_limit = 50` in every endpoint section). */
export interface ConfigOverride {
  /** The flag as typed (`--tps-limit`): where a problem with the value is reported. */
  readonly flag: string;
  readonly key: string;
  readonly value: string;
  /** `source`: the `[source]` section; `endpoints`: `[source]` and every `[dest*]`. */
  readonly sections: 'source' | 'endpoints';
}

/** How `parseConfig` names the text it reads, and where its relative paths start. */
export interface ParseConfigOptions {
  /** Name to report problems under. */
  file: string;
  env?: NodeJS.ProcessEnv;
  /** Keys set by command-line flags (see LoadConfigOptions). */
  overrides?: readonly ConfigOverride[];
  /**
   * Where relative paths in the file (`ca_bundle`, `*_file`) start from: the config file's
   * directory; default the current directory. Paths from the environment start from the latter.
   */
  baseDir?: string;
}
