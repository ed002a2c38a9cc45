/**
 * THE table of configuration keys: one entry per key and the sections it belongs to. The key
 * lists, the secret set, the `<key>_file` keys, the defaults and ranges the readers apply, the
 * environment overlay, the reference in docs/configuration.md and the key lines of
 * s3s3.ini.dist all come from here (`npm run gen` rewrites the last two). A key added by a
 * later change is one entry here plus the line of its section's reader that puts it in the
 * config object. Rules across keys (endpoint vs host/port, auth v1 vs v3, ...) are code in
 * the section readers and rules.ts.
 */
import { formatSize, GiB, MiB } from './values.js';

/**
 * The kinds of section a key can belong to: the two endpoint backends (`[source]` and every
 * `[dest*]`, by their `type`), and the three service sections. `[DEFAULT]` holds keys of the
 * endpoint kinds and of `pubsub`, and gives the endpoint kinds theirs (see load.ts).
 */
export type SectionKind = 's3' | 'swift' | 'pubsub' | 'http' | 'notify';

/** What a value may be; the readers check it, the docs print it. */
export type ValueSpec =
  | { readonly kind: 'boolean' }
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'size'; readonly min: number; readonly max: number }
  | { readonly kind: 'duration' }
  | { readonly kind: 'choice'; readonly choices: Readonly<Record<string, string>> }
  /** Free text, checked (if at all) by the section's reader. */
  | { readonly kind: 'string' }
  | { readonly kind: 'url' }
  /** A file path; relative ones start at the config file's directory. */
  | { readonly kind: 'path' }
  /** A path to a PEM file of CA certificates, read and checked at start. */
  | { readonly kind: 'ca bundle' }
  /** `bwlimit`: a rate per second or a timetable (config/bandwidth.ts). */
  | { readonly kind: 'bandwidth' }
  /** A number of requests per second greater than 0 (decimals allowed), or `off`. */
  | { readonly kind: 'rate' }
  /** `500` or `10%`. */
  | { readonly kind: 'count or percent' }
  /** Mail addresses separated by commas. */
  | { readonly kind: 'addresses' };

/** The blocks of s3s3.ini.dist a key line can go in (the layout is in tools/generated.ts). */
export type IniBlock = 'source' | 'dest1' | 'dest2' | 'swift' | 'pubsub' | 'http' | 'notify';

/** One line of s3s3.ini.dist showing a key. */
export interface IniLine {
  readonly block: IniBlock;
  /** The value shown (a placeholder such as `{YOUR_AWS_ACCESS_KEY_ID}`, or an example). */
  readonly value: string;
  /** Shown as `# key = value`: an example to uncomment rather than a line in effect. */
  readonly commented?: boolean;
  /** Show `<key>_file = value` instead of the key itself. */
  readonly file?: boolean;
  /** The comment after the value, aligned with the others; a `\n` continues it on a line of its own. */
  readonly note?: string;
  /** Comment lines before the key line (without `# `). */
  readonly lead?: readonly string[];
  /** Put the line just before the first line of this key in the block, not in table order. */
  readonly before?: string;
}

/** One configuration key in one set of sections. */
export interface KeyDef {
  /** The INI key, lower case. */
  readonly name: string;
  /** The kinds of section it belongs to; one name may have one entry per meaning (e.g. `host`). */
  readonly sections: readonly SectionKind[];
  readonly value: ValueSpec;
  /** The default, written as in the INI file (the readers read it like a user's value). */
  readonly default?: string;
  /** The default as the docs say it, when it is not one value (`443, or 80 without TLS`). */
  readonly defaultText?: string;
  /** Empty counts as not set: the default applies (`channel =` means `backup`). */
  readonly blankIsDefault?: boolean;
  /** Required: what to put there, for the "missing: set key = <what>" problem. */
  readonly required?: string;
  /** Never printed or logged; a file holding it that others can read is warned about. */
  readonly secret?: boolean;
  /** `<key>_file = PATH` may give it instead; what the file holds, for messages. */
  readonly file?: string;
  /** Other names the key is read under (an older spelling); none today. */
  readonly aliases?: readonly string[];
  /** What it does, one sentence or a few (Markdown). */
  readonly help: string;
  /** Its lines in s3s3.ini.dist; none: not shown there. */
  readonly ini?: readonly IniLine[];
}

const ENDPOINT: readonly SectionKind[] = ['s3', 'swift'];
const S3: readonly SectionKind[] = ['s3'];
const SWIFT: readonly SectionKind[] = ['swift'];
const CHECKSUM = { when_required: 'WHEN_REQUIRED', when_supported: 'WHEN_SUPPORTED' } as const;
const WHEN = { failure: 'failure', always: 'always' } as const;
const bool = { kind: 'boolean' } as const;
const text = { kind: 'string' } as const;
const duration = { kind: 'duration' } as const;
const port = { kind: 'integer', min: 1, max: 65535 } as const;
const partSize = { kind: 'size', min: 5 * MiB, max: 5 * GiB } as const;

/** Every key, in the order the docs and s3s3.ini.dist show them. */
export const KEYS: readonly KeyDef[] = [
  // ---- endpoint sections, S3 ([source], [dest*] without type = swift)
  {
    name: 'aws_access_key_id',
    sections: S3,
    value: text,
    required: 'access key id',
    file: 'access key id',
    help: 'the access key id of the account',
    ini: [
      {
        block: 'source',
        value: '{YOUR_AWS_ACCESS_KEY_ID}',
        lead: ['Credentials of the account that reads the source bucket.'],
      },
      {
        block: 'dest1',
        value: '{YOUR_AWS_ACCESS_KEY_ID}',
        lead: ['A destination. Add as many as you like: every section whose name starts with "dest".'],
      },
      { block: 'dest2', value: '...' },
    ],
  },
  {
    name: 'aws_secret_access_key',
    sections: S3,
    value: text,
    required: 'secret access key',
    secret: true,
    file: 'secret access key',
    help: 'the secret access key of the account',
    ini: [
      { block: 'source', value: '{YOUR_AWS_SECRET_ACCESS_KEY}' },
      {
        block: 'source',
        value: '/run/secrets/s3s3-source',
        file: true,
        commented: true,
        note: 'instead of the line above',
      },
      { block: 'dest1', value: '{YOUR_AWS_SECRET_ACCESS_KEY}' },
      { block: 'dest2', value: '...' },
    ],
  },
  {
    name: 'bucket_name',
    sections: S3,
    value: text,
    required: 'bucket name',
    help: 'the bucket',
    ini: [
      { block: 'source', value: '{SOURCE_BUCKET_NAME}' },
      { block: 'dest1', value: '{DESTINATION_BUCKET_NAME}' },
      { block: 'dest2', value: '...' },
    ],
  },
  {
    name: 'host',
    sections: S3,
    value: text,
    default: 's3.amazonaws.com',
    help: 'endpoint host (original s3s3 key)',
    ini: [
      {
        block: 'source',
        value: 's3.amazonaws.com',
        note: 'default s3.amazonaws.com',
        lead: ['', 'Where the bucket lives: either host/port/is_secure (as the original s3s3) ...'],
      },
      { block: 'dest1', value: 's3.amazonaws.com' },
    ],
  },
  {
    name: 'port',
    sections: S3,
    value: port,
    defaultText: '443, or 80 without TLS',
    help: 'endpoint port',
    ini: [
      { block: 'source', value: '443', note: 'default 443, or 80 when is_secure = false' },
      { block: 'dest1', value: '443' },
    ],
  },
  {
    name: 'is_secure',
    sections: S3,
    value: bool,
    default: 'true',
    help: 'HTTPS',
    ini: [
      { block: 'source', value: 'true', note: 'https (default true)' },
      { block: 'dest1', value: 'true' },
    ],
  },
  {
    name: 'endpoint',
    sections: S3,
    value: { kind: 'url' },
    defaultText: '—',
    help: 'full URL instead of host/port/is_secure, e.g. `http://127.0.0.1:7480`',
    ini: [
      {
        block: 'source',
        value: 'http://127.0.0.1:7480',
        commented: true,
        lead: ['... or one full URL instead of the three keys above (not both):'],
      },
      { block: 'dest2', value: 'https://storage.example.net' },
    ],
  },
  {
    name: 'calling_format',
    sections: S3,
    value: text,
    defaultText: '`OrdinaryCallingFormat`',
    help:
      'path-style; `SubdomainCallingFormat` = virtual-hosted (`boto.s3.connection.` prefix accepted; ' +
      '`path` and `virtual` too)',
    ini: [
      {
        block: 'source',
        value: 'OrdinaryCallingFormat',
        lead: [
          '',
          'OrdinaryCallingFormat = path-style (https://host/bucket/key), the default and what',
          'Ceph, Swift and MinIO want; SubdomainCallingFormat = virtual-hosted (https://bucket.host/key).',
        ],
      },
      { block: 'dest1', value: 'OrdinaryCallingFormat' },
    ],
  },
  {
    name: 'region',
    sections: S3,
    value: text,
    default: 'us-east-1',
    blankIsDefault: true,
    help: 'signing region',
    ini: [
      {
        block: 'source',
        value: 'us-east-1',
        commented: true,
        note: 'signing region (default us-east-1)',
        lead: [''],
      },
    ],
  },
  {
    name: 'signature_version',
    sections: S3,
    value: { kind: 'choice', choices: { s3v4: 'v4', v4: 'v4', s3: 'v2', v2: 'v2' } },
    default: 's3v4',
    help: '`s3` = signature v2 (HMAC-SHA1), for gateways without v4',
    ini: [
      {
        block: 'source',
        value: 's3v4',
        commented: true,
        note: 's3v4 (default) or s3 (signature v2, for old gateways)',
      },
    ],
  },
  {
    name: 'request_checksum_calculation',
    sections: S3,
    value: { kind: 'choice', choices: CHECKSUM },
    default: 'when_required',
    help: '`when_supported` adds CRC checksums and `aws-chunked` bodies, which Ceph (411) and Swift (501) reject',
    ini: [
      { block: 'source', value: 'when_required', commented: true, note: 'when_required (default) or when_supported;' },
    ],
  },
  {
    name: 'response_checksum_validation',
    sections: S3,
    value: { kind: 'choice', choices: CHECKSUM },
    default: 'when_required',
    help: '`when_supported` validates response checksums',
    ini: [{ block: 'source', value: 'when_required', commented: true, note: '  when_supported breaks Ceph and Swift' }],
  },
  {
    name: 'list_objects_version',
    sections: S3,
    value: { kind: 'integer', min: 1, max: 2 },
    default: '2',
    help: '`1` for old gateways (markers instead of continuation tokens)',
    ini: [
      { block: 'source', value: '2', commented: true, note: '2 (default) or 1 for gateways without ListObjectsV2' },
    ],
  },
  // ---- endpoint sections, Swift (type = swift)
  {
    name: 'type',
    sections: ENDPOINT,
    value: { kind: 'choice', choices: { s3: 's3', swift: 'swift' } },
    default: 's3',
    help: "`swift` for a Swift container over Swift's own API; every section without it is S3, its keys unchanged",
    ini: [{ block: 'swift', value: 'swift' }],
  },
  {
    name: 'auth_url',
    sections: SWIFT,
    value: { kind: 'url' },
    required: 'auth URL, e.g. https://auth.example.com/auth/v1.0 or https://keystone.example.com/v3',
    help:
      "auth v1 (tempauth, Cloud Files' legacy auth): `https://HOST/auth/v1.0`; Keystone v3: " +
      "`https://HOST:5000/v3` (the path's end says which)",
    ini: [
      { block: 'swift', value: 'https://auth.example.com/auth/v1.0', note: 'auth v1 (tempauth, Cloud Files) ...' },
      {
        block: 'swift',
        value: 'https://keystone.example.com:5000/v3',
        commented: true,
        before: 'username',
        lead: ['... or Keystone v3 (an auth_url ending in /v3):'],
      },
    ],
  },
  {
    name: 'user',
    sections: SWIFT,
    value: text,
    required: 'user, e.g. account:user',
    defaultText: 'required with v1',
    help: 'auth v1: the user, e.g. `account:user` (`X-Auth-User`)',
    ini: [{ block: 'swift', value: 'account:user' }],
  },
  {
    name: 'key',
    sections: SWIFT,
    value: text,
    required: 'key (the API key or password of user)',
    defaultText: 'required with v1',
    secret: true,
    file: 'Swift key',
    help: 'auth v1: the key of `user` (`X-Auth-Key`)',
    ini: [{ block: 'swift', value: '...', note: 'or key_file = /run/secrets/swift' }],
  },
  {
    name: 'username',
    sections: SWIFT,
    value: text,
    required: 'Keystone user name',
    defaultText: 'required with v3',
    help: 'Keystone v3: the user name (password auth)',
    ini: [{ block: 'swift', value: 'mirror', commented: true }],
  },
  {
    name: 'password',
    sections: SWIFT,
    value: text,
    required: 'Keystone password',
    defaultText: 'required with v3',
    secret: true,
    file: 'Keystone password',
    help: 'Keystone v3: the password of `username`',
    ini: [{ block: 'swift', value: '...', commented: true, note: 'or password_file = ...' }],
  },
  {
    name: 'project_name',
    sections: SWIFT,
    value: text,
    required: 'Keystone project name',
    defaultText: 'required with v3',
    help: 'Keystone v3: the project the token is scoped to',
    ini: [{ block: 'swift', value: 'backups', commented: true }],
  },
  {
    name: 'user_domain_name',
    sections: SWIFT,
    value: text,
    default: 'Default',
    blankIsDefault: true,
    help: "Keystone v3: the user's domain",
    ini: [{ block: 'swift', value: 'Default', commented: true }],
  },
  {
    name: 'project_domain_name',
    sections: SWIFT,
    value: text,
    default: 'Default',
    blankIsDefault: true,
    help: "Keystone v3: the project's domain",
    ini: [{ block: 'swift', value: 'Default', commented: true }],
  },
  {
    name: 'region',
    sections: SWIFT,
    value: text,
    defaultText: 'the first',
    help:
      'Keystone v3: the region whose public object-store endpoint of the catalog is used (only when set ' +
      'in the section or its environment: an S3 `region` in `[DEFAULT]` is not taken)',
    ini: [
      {
        block: 'swift',
        value: 'RegionOne',
        commented: true,
        note: "picks the catalog's public object-store endpoint",
      },
    ],
  },
  {
    name: 'container',
    sections: SWIFT,
    value: text,
    required: 'container name',
    help: 'the container (at most 247 bytes: s3s3 adds `_segments` for large objects)',
    ini: [{ block: 'swift', value: 'photos', note: 'at most 247 bytes' }],
  },
  {
    name: 'storage_url',
    sections: SWIFT,
    value: { kind: 'url' },
    defaultText: 'from the auth service',
    help: 'use this account URL (`https://HOST/v1/AUTH_account`) instead of the one auth names',
    ini: [
      {
        block: 'swift',
        value: 'https://swift.example.com/v1/AUTH_account',
        commented: true,
        note: 'instead of the one auth names',
      },
    ],
  },
  // ---- endpoint sections, both types
  {
    name: 'concurrency',
    sections: ENDPOINT,
    value: { kind: 'integer', min: 1, max: 1024 },
    default: '16',
    help: "objects in flight (the `[source]` value drives a sweep); also sizes each endpoint's connection pool",
    ini: [
      {
        block: 'source',
        value: '16',
        commented: true,
        note: 'objects in flight at once (the [source] value drives a sweep)',
      },
    ],
  },
  {
    name: 'bwlimit',
    sections: ENDPOINT,
    value: { kind: 'bandwidth' },
    default: 'off',
    help:
      '`[source]` only: bytes per second read from the source by the whole process, across all its copies ' +
      '(and so written): a rate (`10M`, `512K`, `off`) or a timetable of `HH:MM,RATE` entries in local time ' +
      "(`08:00,512K 19:00,10M 23:00,off`; the day's last entry lasts until the first of the next day; " +
      '`HH:MM:SS` is read too). A new period applies within a second. Server-side copies move no bytes ' +
      'through s3s3 and are not limited. `--bwlimit` overrides it',
    ini: [
      {
        block: 'source',
        value: '08:00,512K 19:00,10M 23:00,off',
        commented: true,
        note: 'bytes/s for the whole process: 10M, or a timetable',
      },
    ],
  },
  {
    name: 'tps_limit',
    sections: ENDPOINT,
    value: { kind: 'rate' },
    default: 'off',
    help:
      "requests per second to this section's endpoint, of every kind (lists, HEADs, GETs, PUTs, parts, deletes), " +
      'from this process; decimals allowed (`0.5`). It combines with the adaptive concurrency that backs off ' +
      'when the server throttles: the lower wins. `--tps-limit` sets it for every section',
    ini: [{ block: 'source', value: '100', commented: true, note: 'requests per second to this endpoint' }],
  },
  {
    name: 'tps_burst',
    sections: ENDPOINT,
    value: { kind: 'integer', min: 1, max: 100000 },
    default: '1',
    help: 'requests `tps_limit` lets through at once after a quiet spell',
  },
  {
    name: 'connect_timeout',
    sections: ENDPOINT,
    value: duration,
    default: '10s',
    help: 'time to connect',
    ini: [{ block: 'source', value: '10s', commented: true, note: 'durations: 30 (seconds), 90s, 15m, 26h, 7d' }],
  },
  {
    name: 'read_timeout',
    sections: ENDPOINT,
    value: duration,
    default: '60s',
    help: 'time without a byte before a request is abandoned (and retried where safe)',
    ini: [{ block: 'source', value: '60s', commented: true, note: 'without a byte this long, a request is abandoned' }],
  },
  {
    name: 'verify_md5',
    sections: ENDPOINT,
    value: bool,
    default: 'false',
    help: 'verify copies by MD5 (reading back when the ETag is no MD5); in `[source]` it applies to every destination',
    ini: [
      {
        block: 'source',
        value: 'false',
        commented: true,
        note: 'here: verify copies to every destination (see below)',
      },
      {
        block: 'dest1',
        value: 'true',
        lead: [
          '',
          "Verify each copy by MD5: against the destination's ETag when it is a plain MD5,",
          'otherwise by reading the copy back. Decides copy-or-skip by hashing when ETags',
          'alone cannot (multipart objects). Size is always checked.',
        ],
      },
    ],
  },
  {
    name: 'multipart_threshold',
    sections: ENDPOINT,
    value: partSize,
    default: '5G',
    help:
      'larger objects are written multipart; on Swift they become Static Large Objects (5 GiB is also ' +
      "Swift's single-object limit)",
    ini: [
      {
        block: 'dest1',
        value: '5G',
        commented: true,
        lead: [
          '',
          'Objects larger than this go multipart, in parts of multipart_chunksize, a few',
          'parts at a time. Default 5G, the single-PUT limit; Ceph and Swift prefer single PUTs.',
        ],
      },
      { block: 'swift', value: '5G', commented: true, note: 'larger objects become Static Large Objects,' },
    ],
  },
  {
    name: 'multipart_chunksize',
    sections: ENDPOINT,
    value: partSize,
    default: '64M',
    help: 'part size (on Swift: the SLO segment size)',
    ini: [
      { block: 'dest1', value: '64M', commented: true, note: '5M to 5G' },
      { block: 'swift', value: '64M', commented: true, note: '  segments in <container>_segments' },
    ],
  },
  {
    name: 'record_metadata',
    sections: ENDPOINT,
    value: bool,
    default: 'true',
    help: 'record `x-amz-meta-s3s3-source-etag` / `-md5` on each copy',
    ini: [
      {
        block: 'dest1',
        value: 'true',
        commented: true,
        lead: [
          '',
          'Record the source ETag and MD5 on each copy as x-amz-meta-s3s3-source-etag and',
          'x-amz-meta-s3s3-md5, so later sweeps can skip multipart objects without reading them.',
        ],
      },
    ],
  },
  {
    name: 'storage_class',
    sections: S3,
    value: text,
    defaultText: "none sent (the bucket's default class)",
    help:
      '`[dest*]` only: the storage class each copy is written in (`STANDARD_IA`, `GLACIER_IR`, a Ceph ' +
      "placement's class...), or `copy`: the source object's own; a class the destination refuses fails that " +
      'object with its words, not the run',
    ini: [
      {
        block: 'dest1',
        value: 'copy',
        commented: true,
        lead: ['', "The storage class copies are written in: a class name, or copy (the source object's own)."],
        note: "default: none sent (the bucket's default class)",
      },
    ],
  },
  {
    name: 'tags',
    sections: ENDPOINT,
    value: bool,
    default: 'true',
    help:
      '`[dest*]` only: copy object tags with each object (one GetObjectTagging per tagged object; ' +
      '`--check-metadata` also finds a tag-only change); Swift has no object tags (said once)',
    ini: [
      {
        block: 'dest1',
        value: 'true',
        commented: true,
        lead: ['', "Copy the source objects' tags (x-amz-tagging) with them."],
      },
    ],
  },
  {
    name: 'acl',
    sections: S3,
    value: {
      kind: 'choice',
      choices: {
        private: 'private',
        'public-read': 'public-read',
        'authenticated-read': 'authenticated-read',
        'bucket-owner-full-control': 'bucket-owner-full-control',
        copy: 'copy',
      },
    },
    defaultText: "none sent (the bucket's default, usually private)",
    help:
      '`[dest*]` only: the canned ACL each copy is written with, or `copy`: the public or authenticated read ' +
      "the source object grants, as the canned ACL that says it (grants to other accounts' ids are logged, " +
      'not copied: owners differ across providers)',
    ini: [
      {
        block: 'dest1',
        value: 'copy',
        commented: true,
        lead: ['', "The ACL copies are written with: private, public-read, ..., or copy (the source's read grants)."],
        note: 'default: none sent',
      },
    ],
  },
  {
    name: 'object_lock',
    sections: S3,
    value: { kind: 'choice', choices: { copy: 'copy' } },
    defaultText: 'none sent',
    help:
      "`[dest*]` only: `copy` gives each copy the source object's Object Lock retention (mode and retain-until " +
      'date) and legal hold; the destination bucket must have Object Lock enabled (checked when a command ' +
      'starts, exit 2 otherwise). A retention already over is not sent',
    ini: [
      {
        block: 'dest1',
        value: 'copy',
        commented: true,
        lead: ['', "Copy each object's Object Lock retention and legal hold (the bucket needs Object Lock)."],
      },
    ],
  },
  {
    name: 'list_page_size',
    sections: S3,
    value: { kind: 'integer', min: 1, max: 1000 },
    default: '1000',
    help: 'keys asked for per listing page',
    ini: [{ block: 'source', value: '1000', commented: true, note: 'keys asked for per listing page (1-1000)' }],
  },
  {
    name: 'list_page_size',
    sections: SWIFT,
    value: { kind: 'integer', min: 1, max: 10_000 },
    default: '1000',
    help: "names per listing page (Swift's `container_listing_limit`)",
    ini: [
      {
        block: 'swift',
        value: '1000',
        commented: true,
        note: '1-10000 names per listing page',
        before: 'multipart_threshold',
      },
    ],
  },
  {
    name: 'list_parallel',
    sections: ENDPOINT,
    value: { kind: 'integer', min: 1, max: 64 },
    default: '4',
    help: 'key ranges of one listing read at once by a sweep (1 lists page after page)',
    ini: [{ block: 'source', value: '4', commented: true, note: 'key ranges a sweep lists at once (1-64)' }],
  },
  {
    name: 'list_url_encoding',
    sections: S3,
    value: bool,
    default: 'true',
    help:
      'ask listings for `encoding-type=url` and decode the keys (as botocore does): XML cannot carry control ' +
      "characters, and Swift's s3api answers 500 to a page holding one otherwise. A gateway that ignores the " +
      'parameter (does not echo it) is read as it answers; set `false` only for one that mis-encodes',
    ini: [
      {
        block: 'source',
        value: 'true',
        commented: true,
        note: 'ask listings for encoding-type=url; false for gateways that mishandle it',
      },
    ],
  },
  {
    name: 'max_retries',
    sections: ENDPOINT,
    value: { kind: 'integer', min: 0, max: 100 },
    default: '10',
    help:
      'retries of a failed request without a body (list, head, delete) and of a failed copy, with exponential ' +
      'backoff and full jitter (~45 s in all at 10), at least as long as a `Retry-After` asks (capped at 60 s)',
    ini: [
      { block: 'source', value: '10', commented: true, note: 'retries of a call without a body (list, head, delete)' },
    ],
  },
  {
    name: 'versions',
    sections: S3,
    value: bool,
    default: 'false',
    help:
      '`[source]` only: copy every version of every object, oldest first, delete markers as delete markers, ' +
      "so each destination's history follows the source's ([Versioned buckets](s3s3bucket.md#versioned-buckets)); " +
      'the source and every destination must be S3 buckets with versioning enabled (checked when a command starts)',
    ini: [
      { block: 'source', value: 'false', commented: true, note: 'copy every version, in order (versioned buckets)' },
    ],
  },
  {
    name: 'state_dir',
    sections: ENDPOINT,
    value: { kind: 'path' },
    defaultText: '`$XDG_STATE_HOME/s3s3`, else `/var/lib/s3s3` as root, `~/.local/state/s3s3` otherwise',
    help:
      '`[source]` only: where s3s3 keeps the state of its multipart uploads under way (so a crash resumes them) ' +
      'when `[pubsub] redis` is off; with Redis they are kept in the hash `s3s3:uploads`',
    ini: [
      {
        block: 'source',
        value: '/var/lib/s3s3',
        commented: true,
        note: 'uploads under way, to resume after a crash (without Redis)',
      },
    ],
  },
  {
    name: 'upload_ttl',
    sections: ENDPOINT,
    value: duration,
    default: '7d',
    help:
      "`[source]` only: s3s3's own multipart uploads begun longer ago than this are aborted (by a sweep when it " +
      'starts, a worker when it starts and hourly, or `s3s3 uploads abort`)',
    ini: [
      { block: 'source', value: '7d', commented: true, note: 'abandoned uploads of our own are aborted after this' },
    ],
  },
  {
    name: 'lean_requests',
    sections: S3,
    value: bool,
    default: 'true',
    help:
      "HEAD, GET, PUT and DELETE of one object go through s3s3's own HTTP path (its SigV4/SigV2 signers on the " +
      'keep-alive agent; about 4x less client CPU per small object than the AWS SDK, measured with ' +
      'bench/duplicate.sh); `false` sends them through the SDK like every other call (also the case with ' +
      '`request_checksum_calculation` or `response_checksum_validation` = `WHEN_SUPPORTED`)',
    ini: [
      {
        block: 'source',
        value: 'true',
        commented: true,
        note: "one-object calls on s3s3's own HTTP path; false: through the AWS SDK",
      },
    ],
  },
  {
    name: 'ca_bundle',
    sections: ENDPOINT,
    value: { kind: 'ca bundle' },
    defaultText: 'system CAs',
    help: "HTTPS: a PEM file of the CA(s) to trust for this endpoint only (a private CA's Ceph or Swift)",
    ini: [
      {
        block: 'source',
        value: '/etc/ssl/my-ca.pem',
        commented: true,
        note: 'https: trust only the CA(s) in this PEM file, for this endpoint',
      },
    ],
  },
  {
    name: 'verify_ssl',
    sections: ENDPOINT,
    value: bool,
    default: 'true',
    help: '`false` accepts any certificate (unsafe; one warning at start naming the section)',
    ini: [
      {
        block: 'source',
        value: 'true',
        commented: true,
        note: 'false accepts any certificate (unsafe; warned about at start)',
      },
    ],
  },
  {
    name: 'prefix',
    sections: ENDPOINT,
    value: text,
    default: '',
    defaultText: 'none',
    help:
      '`[source]`: only keys under it, stripped; `[dest*]`: added to every key copied there (a prefix move); ' +
      'only keys under it are compared, checked or deleted',
    ini: [
      {
        block: 'source',
        value: 'images/',
        commented: true,
        note: 'only keys under it, stripped: images/a.jpg -> <dest prefix>a.jpg',
      },
      {
        block: 'dest1',
        value: 'avatar/',
        commented: true,
        lead: [
          '',
          'A prefix added to every key copied here: with [source] prefix = images/ and this',
          'prefix = avatar/, images/2024/a.jpg lands as avatar/2024/a.jpg (a move; the source is',
          'never changed). Only keys under it are compared, checked or deleted.',
        ],
      },
    ],
  },
  {
    name: 'delete',
    sections: ENDPOINT,
    value: bool,
    defaultText: 'not set',
    help:
      '`[dest*]` only: `true` deletes there what the source lacks (sweep and listener); `false` never, even ' +
      'with `--delete`; not set: only with `--delete`',
    ini: [
      {
        block: 'dest1',
        value: 'false',
        commented: true,
        lead: [
          '',
          'Deletes: keys the source does not have are deleted here by s3s3bucket --delete (unless',
          'delete = false) and, with delete = true, by the listener and every sweep as well.',
        ],
      },
    ],
  },
  {
    name: 'delete_mode',
    sections: ENDPOINT,
    value: { kind: 'choice', choices: { delete: 'delete', trash: 'trash', versions: 'versions' } },
    default: 'delete',
    help:
      '`[dest*]` only: `trash` copies the object under `trash_prefix` first, then deletes it; `versions` (only ' +
      'with `[source] versions = true`; **dangerous**: history is lost for good) removes every version of a key ' +
      'the source no longer has in any version, where `delete` writes a delete marker',
    ini: [
      {
        block: 'dest1',
        value: 'delete',
        commented: true,
        note: 'or trash: move to trash_prefix + key, then delete',
      },
    ],
  },
  {
    name: 'trash_prefix',
    sections: ENDPOINT,
    value: text,
    defaultText: '`.s3s3-trash/<UTC date>/`',
    help:
      '`[dest*]` only: where `delete_mode = trash` puts objects; never swept, checked or deleted, nor is any ' +
      'earlier `trash_prefix` (see [Deletes](deletes-check-report.md#deletes-and-their-guards)); must not ' +
      "overlap another section's prefix in the same bucket",
    ini: [
      {
        block: 'dest1',
        value: '.s3s3-trash/',
        commented: true,
        note: 'default .s3s3-trash/<UTC date>/ at the bucket root',
      },
    ],
  },
  {
    name: 'max_delete',
    sections: ENDPOINT,
    value: { kind: 'count or percent' },
    default: '10%',
    help:
      '`[dest*]` only: most deletes per sweep there, a count (`500`) or a percentage of its keys in scope; ' +
      '`--max-delete` overrides',
    ini: [
      {
        block: 'dest1',
        value: '10%',
        commented: true,
        note: 'most deletes per sweep here: a count or a % of its keys',
      },
    ],
  },
  // ---- [pubsub]
  {
    name: 'redis',
    sections: ['pubsub'],
    value: bool,
    defaultText: '`true` when `[pubsub]` exists',
    help: 'use Redis (the listener needs it; the sweep uses it for its lock)',
    ini: [
      {
        block: 'pubsub',
        value: 'true',
        note: 'default true when this section exists',
        lead: ['The Redis channel s3s3listen subscribes to; each message names one object key.'],
      },
    ],
  },
  {
    name: 'redis_url',
    sections: ['pubsub'],
    value: { kind: 'url' },
    defaultText: '—',
    secret: true,
    file: 'Redis URL',
    help: '`redis://[:password@]host:port/db`, or `rediss://` for TLS; instead of `host`, `port`, `db`, `password`',
    ini: [
      {
        block: 'pubsub',
        value: 'redis://:password@127.0.0.1:6379/0',
        commented: true,
        note: 'or rediss:// for TLS; or the four keys:',
      },
    ],
  },
  {
    name: 'redis_ca_bundle',
    sections: ['pubsub'],
    value: { kind: 'ca bundle' },
    defaultText: 'system CAs',
    help: '`rediss://` or `redis_tls = true`: a PEM file of the CA(s) to trust',
    ini: [
      {
        block: 'pubsub',
        value: '/etc/ssl/my-ca.pem',
        commented: true,
        note: 'rediss://: trust only the CA(s) in this PEM file',
      },
    ],
  },
  {
    name: 'redis_verify_ssl',
    sections: ['pubsub'],
    value: bool,
    default: 'true',
    help: '`rediss://` or `redis_tls = true`: `false` accepts any certificate (unsafe; warned about)',
    ini: [
      {
        block: 'pubsub',
        value: 'true',
        commented: true,
        note: 'rediss://: false accepts any certificate (unsafe; warned about)',
      },
    ],
  },
  {
    name: 'host',
    sections: ['pubsub'],
    value: text,
    default: '127.0.0.1',
    blankIsDefault: true,
    help: 'Redis host (original s3s3 key)',
    ini: [{ block: 'pubsub', value: '127.0.0.1' }],
  },
  {
    name: 'port',
    sections: ['pubsub'],
    value: port,
    default: '6379',
    help: 'Redis port',
    ini: [{ block: 'pubsub', value: '6379' }],
  },
  {
    name: 'db',
    sections: ['pubsub'],
    value: { kind: 'integer', min: 0, max: 1_000_000 },
    default: '0',
    help: 'Redis database number',
    ini: [{ block: 'pubsub', value: '0' }],
  },
  {
    name: 'password',
    sections: ['pubsub'],
    value: text,
    defaultText: 'none',
    secret: true,
    file: 'Redis password',
    help: 'Redis password',
    ini: [
      { block: 'pubsub', value: '', commented: true },
      {
        block: 'pubsub',
        value: '/run/secrets/redis',
        file: true,
        commented: true,
        note: 'or read the password from a file',
      },
    ],
  },
  {
    name: 'redis_sentinels',
    sections: ['pubsub'],
    value: text,
    defaultText: '—',
    help:
      'Redis Sentinel: the sentinels as `host:port, host:port, ...`; s3s3 asks them for the master of ' +
      '`redis_sentinel_name` and follows a failover by itself. Instead of `redis_url`/`host`/`port`; ' +
      "`password`, `db` are the data nodes'",
    ini: [
      {
        block: 'pubsub',
        value: '10.0.0.1:26379, 10.0.0.2:26379, 10.0.0.3:26379',
        commented: true,
        lead: ['Or a Redis that fails over, instead of redis_url/host/port (comment them out): Sentinel...'],
      },
    ],
  },
  {
    name: 'redis_sentinel_name',
    sections: ['pubsub'],
    value: text,
    defaultText: '—',
    help: 'Redis Sentinel: the name of the master the sentinels monitor (required with `redis_sentinels`)',
    ini: [{ block: 'pubsub', value: 'mymaster', commented: true }],
  },
  {
    name: 'redis_sentinel_password',
    sections: ['pubsub'],
    value: text,
    defaultText: 'none',
    secret: true,
    file: 'Redis Sentinel password',
    help: "Redis Sentinel: the sentinels' own password (`password` stays the data nodes')",
    ini: [{ block: 'pubsub', value: '/run/secrets/redis-sentinel', file: true, commented: true }],
  },
  {
    name: 'redis_cluster',
    sections: ['pubsub'],
    value: text,
    defaultText: '—',
    help:
      'Redis Cluster: nodes to start from, as `host:port, host:port, ...` (the others are found by ' +
      'asking them); instead of `redis_url`/`host`/`port`; a `db` other than 0 is refused. ' +
      "The queue's keys then carry the `{s3s3}` prefix",
    ini: [
      {
        block: 'pubsub',
        value: '10.0.0.1:6379, 10.0.0.2:6379, 10.0.0.3:6379',
        commented: true,
        note: '...or Cluster',
      },
    ],
  },
  {
    name: 'redis_tls',
    sections: ['pubsub'],
    value: bool,
    default: 'false',
    help:
      '`true`: TLS to the nodes of `redis_sentinels` or `redis_cluster` (and to `host`), checked with ' +
      '`redis_ca_bundle`/`redis_verify_ssl`; a `redis_url` says it with `rediss://`',
    ini: [{ block: 'pubsub', value: 'false', commented: true, note: 'true: TLS to those nodes' }],
  },
  {
    name: 'redis_wait_replicas',
    sections: ['pubsub'],
    value: { kind: 'integer', min: 0, max: 100 },
    default: '0',
    help:
      'each queued job and each sweep-lock write waits for this many replicas to have it (`WAIT`) ' +
      'before it counts: `POST /events` answers 503 and a pub/sub key stays in memory and is sent again ' +
      'when fewer acknowledge within `redis_wait_timeout` (see [What a failover can lose]' +
      '(operations.md#what-a-failover-can-lose)); 0: do not wait',
    ini: [
      {
        block: 'pubsub',
        value: '0',
        commented: true,
        note: '1: a job counts once a replica has it (survives a failover)',
      },
    ],
  },
  {
    name: 'redis_wait_timeout',
    sections: ['pubsub'],
    value: duration,
    default: '1s',
    help:
      'how long a write waits for `redis_wait_replicas` replicas before it is taken for failed and sent again ' +
      '(`1s` to `10s`)',
    ini: [{ block: 'pubsub', value: '1s', commented: true }],
  },
  {
    name: 'channel',
    sections: ['pubsub'],
    value: text,
    default: 'backup',
    blankIsDefault: true,
    help: 'the pub/sub channel, as the original',
    ini: [{ block: 'pubsub', value: 'backup', note: 'default backup, as the original s3s3' }],
  },
  {
    name: 'failed_list',
    sections: ['pubsub'],
    value: text,
    default: 's3s3:failed',
    blankIsDefault: true,
    help:
      'the failed list of the listener before the queue: read once at start and taken over (see ' +
      '[Upgrading](s3s3listen.md#upgrading-from-the-listener-before-the-queue))',
    ini: [
      {
        block: 'pubsub',
        value: 's3s3:failed',
        commented: true,
        note: 'the listener before the queue: its failed list and journal,',
      },
    ],
  },
  {
    name: 'pending_set',
    sections: ['pubsub'],
    value: text,
    default: 's3s3:pending',
    blankIsDefault: true,
    help: 'the receipt journal of the listener before the queue, taken over like `failed_list`',
    ini: [
      {
        block: 'pubsub',
        value: 's3s3:pending',
        commented: true,
        note: '  taken over into the queue at start (upgrade)',
      },
    ],
  },
  {
    name: 'marker',
    sections: ['pubsub'],
    value: bool,
    default: 'true',
    help: "set the original's `backup=>KEY` marker once a key is in every destination",
    ini: [
      {
        block: 'pubsub',
        value: 'true',
        commented: true,
        note: 'set the original\'s "backup=>KEY" marker once a key is everywhere',
      },
    ],
  },
  {
    name: 'concurrency',
    sections: ['pubsub'],
    value: { kind: 'integer', min: 1, max: 1024 },
    defaultText: 'the `[source]` `concurrency`',
    help: 'keys the listener copies at once',
    ini: [
      {
        block: 'pubsub',
        value: '16',
        commented: true,
        note: 'keys the listener copies at once (default: the [source] value)',
      },
    ],
  },
  {
    name: 'shutdown_timeout',
    sections: ['pubsub'],
    value: duration,
    default: '30s',
    help: 'how long the listener waits for copies in flight on SIGTERM/SIGINT',
    ini: [
      {
        block: 'pubsub',
        value: '30s',
        commented: true,
        note: 'how long the listener lets copies finish on SIGTERM/SIGINT',
      },
    ],
  },
  {
    name: 'lock_ttl',
    sections: ['pubsub'],
    value: duration,
    default: '60s',
    help: 'how long the sweep lock lives without renewal (renewed every third of it; at least `3s`)',
    ini: [
      {
        block: 'pubsub',
        value: '60s',
        commented: true,
        note: 'how long the sweep lock lives unrenewed (renewed every third)',
      },
    ],
  },
  {
    name: 'queue',
    sections: ['pubsub'],
    value: text,
    defaultText: 'from the buckets',
    help: 'the BullMQ queue of `s3s3listen` (no `:`); by default named after the source and destination buckets',
    ini: [
      {
        block: 'pubsub',
        value: 's3s3-photos',
        commented: true,
        note: "BullMQ queue of s3s3listen (default: named after the buckets; no ':')",
      },
    ],
  },
  {
    name: 'max_queued',
    sections: ['pubsub'],
    value: { kind: 'integer', min: 1, max: 100_000_000 },
    default: '10000',
    help: '`s3s3bucket --enqueue` waits while more jobs than this wait',
    ini: [
      {
        block: 'pubsub',
        value: '10000',
        commented: true,
        note: 's3s3bucket --enqueue waits while more jobs than this wait',
      },
    ],
  },
  {
    name: 'lag_threshold',
    sections: ['pubsub'],
    value: duration,
    default: '15m',
    help:
      "AWS replication's threshold: a key copied later than this after its source write counts in " +
      '`s3s3_replicated_after_threshold_total`, a key still pending past it once in `s3s3_missed_threshold_total` ' +
      '(and in the webhook with `[notify] lag_events = true`)',
    ini: [{ block: 'pubsub', value: '15m', commented: true, note: 'replication later than this is reported' }],
  },
  {
    name: 'failed_keep',
    sections: ['pubsub'],
    value: { kind: 'integer', min: 0, max: 1_000_000_000 },
    default: '0',
    help: 'keep only the newest N failed jobs, 0 all (a warning says to run the sweep for the rest)',
    ini: [
      { block: 'pubsub', value: '0', commented: true, note: 'failed jobs kept (0: all, until retried or cleared)' },
    ],
  },
  {
    name: 'report',
    sections: ['pubsub'],
    value: { kind: 'path' },
    defaultText: 'none',
    help: "the listener's CSV report file (the rows of `s3s3bucket --report`)",
    ini: [
      {
        block: 'pubsub',
        value: '/var/log/s3s3/listen.csv',
        commented: true,
        note: "the listener's CSV rows, as s3s3bucket --report",
      },
    ],
  },
  {
    name: 'report_max_size',
    sections: ['pubsub'],
    value: { kind: 'size', min: 4096, max: 1024 * GiB },
    default: '100M',
    help: 'rotate the report at this size (to FILE.1 ... FILE.N)',
    ini: [{ block: 'pubsub', value: '100M', commented: true, note: 'rotate the report at this size' }],
  },
  {
    name: 'report_keep',
    sections: ['pubsub'],
    value: { kind: 'integer', min: 0, max: 1000 },
    default: '5',
    help: 'old report files kept',
    ini: [{ block: 'pubsub', value: '5', commented: true, note: 'old report files kept (FILE.1 ... FILE.5)' }],
  },
  {
    name: 'report_raw_keys',
    sections: ['pubsub'],
    value: bool,
    default: 'false',
    help:
      '`true`: keys and errors go into the CSV report (this one and `s3s3bucket --report`) as they are, without ' +
      "the `'` that neutralises `=`, `+`, `-`, `@`, tab, CR (see " +
      '[Check and report](deletes-check-report.md#check-and-report))',
    ini: [
      {
        block: 'pubsub',
        value: 'false',
        commented: true,
        note: "true: keys and errors as they are, without the ' put before =, +, -, @, tab, CR",
      },
    ],
  },
  {
    name: 'sns',
    sections: ['pubsub'],
    value: bool,
    default: 'false',
    help: 'SNS is not supported: `true` is refused (original s3s3 key)',
    ini: [{ block: 'pubsub', value: 'false', note: 'SNS is not supported; must stay false' }],
  },
  // ---- [http]
  {
    name: 'port',
    sections: ['http'],
    value: port,
    defaultText: 'none: off',
    help: "the HTTP surface's port; `S3S3_HTTP_PORT` overrides it (one port per worker)",
    ini: [
      {
        block: 'http',
        value: '9464',
        commented: true,
        note: 'S3S3_HTTP_PORT overrides it (one port per worker process)',
        lead: [
          "The listener's HTTP surface: /healthz, /readyz, /metrics (Prometheus), POST /events (bucket",
          'notifications from Ceph RGW, MinIO, AWS) and /queues (the queue board). Off without a port.',
        ],
      },
    ],
  },
  {
    name: 'host',
    sections: ['http'],
    value: text,
    default: '127.0.0.1',
    blankIsDefault: true,
    help: 'the address to listen on; `0.0.0.0` to reach it from other machines (put tokens on)',
    ini: [
      {
        block: 'http',
        value: '127.0.0.1',
        commented: true,
        note: '0.0.0.0 to reach it from other machines (set the tokens)',
      },
    ],
  },
  {
    name: 'events_token',
    sections: ['http'],
    value: text,
    defaultText: 'none',
    secret: true,
    file: 'events token',
    help: 'required on `POST /events` when set (`Authorization: Bearer` or `?token=`); at least 16 characters',
    ini: [
      {
        block: 'http',
        value: '{EVENTS_TOKEN}',
        commented: true,
        note: 'required on POST /events when set (Bearer or ?token=); or events_token_file',
      },
    ],
  },
  {
    name: 'admin_token',
    sections: ['http'],
    value: text,
    defaultText: 'none: the board is read-only, open to reads',
    secret: true,
    file: 'admin token',
    help:
      '`/queues` then needs it for everything, reads included, and lets it retry and clean jobs ' +
      '(`Authorization: Bearer`, or `?token=` once for a cookie); at least 16 characters',
    ini: [
      {
        block: 'http',
        value: '{ADMIN_TOKEN}',
        commented: true,
        note: '/queues then needs it, reads too, and can retry/clean; without it: read-only; or admin_token_file',
      },
    ],
  },
  // ---- [notify]
  {
    name: 'mail_to',
    sections: ['notify'],
    value: { kind: 'addresses' },
    defaultText: 'none: no mail',
    help: 'recipients, separated by commas (`ops@example.com, On Call <oncall@example.com>`)',
    ini: [
      {
        block: 'notify',
        value: 'ops@example.com, oncall@example.com',
        commented: true,
        note: 'recipients, separated by commas',
        lead: [
          'The run report of s3s3bucket, by mail and/or to a webhook (one report per run, from the',
          'first --config that has this section). Off without mail_to or webhook_url.',
        ],
      },
    ],
  },
  {
    name: 'mail_from',
    sections: ['notify'],
    value: text,
    defaultText: 'required with `mail_to`',
    help: 'the sender address',
    ini: [{ block: 'notify', value: 's3s3 <s3s3@example.com>', commented: true }],
  },
  {
    name: 'smtp_url',
    sections: ['notify'],
    value: { kind: 'url' },
    defaultText: 'required with `mail_to`',
    secret: true,
    file: 'SMTP URL',
    help:
      '`smtp://[USER:PASSWORD@]HOST[:587]` (STARTTLS; required with a password) or `smtps://…[:465]`; ' +
      'percent-encode special characters of the password',
    ini: [
      {
        block: 'notify',
        value: 'smtps://s3s3:{SMTP_PASSWORD}@mail.example.com:465',
        commented: true,
        note: 'or smtp://HOST:587 (STARTTLS;\nrequired with a password); or S3S3_NOTIFY_SMTP_URL, or smtp_url_file',
      },
    ],
  },
  {
    name: 'mail_when',
    sections: ['notify'],
    value: { kind: 'choice', choices: WHEN },
    default: 'failure',
    help: '`failure`: mail only when the exit status is not 0; `always`: after every sweep',
    ini: [
      {
        block: 'notify',
        value: 'failure',
        commented: true,
        note: 'failure (default): only when the run failed; always: every sweep',
      },
    ],
  },
  {
    name: 'subject',
    sections: ['notify'],
    value: text,
    defaultText: '`s3s3bucket {outcome}: {source}`',
    help: 'the subject; `{outcome}` (`OK`, `FAILED (N failed)`), `{source}` and `{host}` are filled in',
    ini: [
      {
        block: 'notify',
        value: '[backup] {outcome} {source}',
        commented: true,
        note: 'default: s3s3bucket {outcome}: {source}; {host} too',
      },
    ],
  },
  {
    name: 'webhook_url',
    sections: ['notify'],
    value: { kind: 'url' },
    defaultText: 'none',
    secret: true,
    file: 'webhook URL',
    help: '`http(s)://…`: the JSON summary is POSTed there; only its host is printed',
    ini: [
      {
        block: 'notify',
        value: 'https://hooks.example.com/s3s3',
        commented: true,
        note: 'POSTs the JSON summary; or webhook_url_file',
      },
    ],
  },
  {
    name: 'lag_events',
    sections: ['notify'],
    value: bool,
    default: 'false',
    help:
      's3s3listen posts `OperationMissedThreshold` and `OperationReplicatedAfterThreshold` events ' +
      '(`[pubsub] lag_threshold`) to `webhook_url`, batched, at most one post a minute',
    ini: [{ block: 'notify', value: 'true', commented: true, note: 's3s3listen posts lag events to webhook_url' }],
  },
  {
    name: 'webhook_when',
    sections: ['notify'],
    value: { kind: 'choice', choices: WHEN },
    default: 'always',
    help: '`failure`: post only when the exit status is not 0',
    ini: [{ block: 'notify', value: 'always', commented: true, note: 'always (default) or failure' }],
  },
  {
    name: 'ca_bundle',
    sections: ['notify'],
    value: { kind: 'ca bundle' },
    defaultText: 'system CAs',
    help: 'a PEM file of the CA(s) to trust for the SMTP server and the webhook',
    ini: [
      {
        block: 'notify',
        value: '/etc/ssl/my-ca.pem',
        commented: true,
        note: 'trust only the CA(s) in this PEM file, for SMTP and the webhook',
      },
    ],
  },
  {
    name: 'verify_ssl',
    sections: ['notify'],
    value: bool,
    default: 'true',
    help: '`false` accepts any certificate (unsafe; warned about)',
    ini: [
      {
        block: 'notify',
        value: 'true',
        commented: true,
        note: 'false accepts any certificate (unsafe; warned about at start)',
      },
    ],
  },
];

/** The entry for `name` in a section of `kind`; undefined when that section does not take it. */
export function keyDef(kind: SectionKind, name: string): KeyDef | undefined {
  return KEYS.find((k) => k.name === name && k.sections.includes(kind));
}

/** The names a section of these kinds takes, `<key>_file` variants included, in table order. */
export function keyNames(...kinds: readonly SectionKind[]): readonly string[] {
  const names: string[] = [];
  for (const k of KEYS) {
    if (!k.sections.some((s) => kinds.includes(s))) continue;
    for (const name of [k.name, ...(k.aliases ?? []), ...(k.file !== undefined ? [`${k.name}_file`] : [])])
      if (!names.includes(name)) names.push(name);
  }
  return Object.freeze(names);
}

/** Keys of a `type = swift` section that an S3 section does not take. */
export const SWIFT_ONLY_KEYS = keyNames('swift').filter((k) => !keyNames('s3').includes(k));
/** Keys of an S3 section that a `type = swift` section does not take. */
export const S3_ONLY_KEYS = keyNames('s3').filter((k) => !keyNames('swift').includes(k));
/** Every key an endpoint section (`[source]`, `[dest*]`) may hold, whatever its type. */
export const ENDPOINT_KEYS = keyNames('s3', 'swift');
/** Every key any section may hold: the names the environment overlay recognises. */
export const ALL_KEYS = keyNames('s3', 'swift', 'pubsub', 'http', 'notify');
/** Names of the secret keys, in any section. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(KEYS.filter((k) => k.secret).map((k) => k.name));

/**
 * The environment variable that sets `key` in section `section`: `S3S3_<SECTION>_<KEY>`, the
 * section upper-cased with every other character as `_` (`[dest-eu]`: `S3S3_DEST_EU_...`).
 */
export function envVariable(section: string, key: string): string {
  return `S3S3_${section.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${key.toUpperCase()}`;
}

const BY_LENGTH = [...ALL_KEYS].sort((a, b) => b.length - a.length);

/**
 * The reverse of `envVariable`: the section (lower-cased, `_` for other characters) and the
 * key a variable sets; the key is the longest known key that ends the name, so
 * `S3S3_DEST1_AWS_SECRET_ACCESS_KEY_FILE` is `aws_secret_access_key_file`. Undefined: not one.
 */
export function parseEnvVariable(name: string): { readonly section: string; readonly key: string } | undefined {
  if (!name.startsWith('S3S3_')) return undefined;
  const rest = name.slice(5).toLowerCase();
  const key = BY_LENGTH.find((k) => rest.endsWith('_' + k));
  if (!key) return undefined;
  const section = rest.slice(0, rest.length - key.length - 1);
  return section === '' ? undefined : { section, key };
}

/** A value's kind and range as the docs print it. */
export function describeValue(value: ValueSpec): string {
  switch (value.kind) {
    case 'integer':
      return `integer ${value.min}–${value.max}`;
    case 'size':
      return `size ${formatSize(value.min)}–${formatSize(value.max)}`;
    case 'choice':
      return Object.keys(value.choices)
        .map((c) => `\`${c}\``)
        .join(', ');
    case 'duration':
      return 'duration';
    case 'bandwidth':
      return 'size per second, or a timetable';
    case 'rate':
      return 'per second, or `off`';
    default:
      return value.kind;
  }
}
