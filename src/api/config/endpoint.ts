/**
 * What both endpoint backends read alike: the tuning keys, `prefix` and the destination-only
 * delete keys, and the TLS keys with their warnings. The backends' own readers are s3.ts and
 * swift.ts; which keys belong to which backend is the table's `sections`.
 */
import type { Bandwidth } from './bandwidth.js';
import { keyNames } from './keys.js';
import type { Reader } from './reader.js';
import type { EndpointSettings, EndpointType, MaxDelete, SharedEndpointConfig } from './types.js';
import { parseMaxDelete } from './values.js';

/** The shared fields of an endpoint section other than where it is (name, type, bucket, endpoint). */
export type SharedEndpointFields = Omit<SharedEndpointConfig, 'name' | 'type' | 'bucket' | 'endpoint'>;

/** The keys both types share, read from the section: sizes, concurrency, timeouts, checks, retries, deletes, TLS. */
export function readShared(r: Reader, tlsEndpoint: string | undefined): SharedEndpointFields {
  // In the order the table lists them, so problems come out in the order of the docs.
  return {
    multipartThreshold: r.size('multipart_threshold'),
    multipartChunksize: r.size('multipart_chunksize'),
    concurrency: r.integer('concurrency'),
    connectTimeoutMs: r.seconds('connect_timeout'),
    readTimeoutMs: r.seconds('read_timeout'),
    verifyMd5: r.boolean('verify_md5'),
    recordMetadata: r.boolean('record_metadata'),
    tags: readTags(r),
    listPageSize: r.integer('list_page_size'),
    listParallel: r.integer('list_parallel'),
    maxRetries: r.integer('max_retries'),
    ...uploadState(r),
    ...limits(r),
    ...endpointTls(r, tlsEndpoint),
    ...deletion(r),
  };
}

/** `tags`: a destination's (the source's tags are what is copied). */
function readTags(r: Reader): boolean {
  if (r.section === 'source' && r.has('tags'))
    r.problem('tags', "belongs in a [dest*] section: it says whether copies get the source's tags");
  return r.boolean('tags');
}

/** `state_dir` and `upload_ttl`: the source's (they say where and how long uploads are kept). */
function uploadState(r: Reader): { stateDir?: string; uploadTtlMs: number } {
  if (r.section !== 'source') {
    for (const k of ['state_dir', 'upload_ttl'])
      if (r.has(k) && r.level(k) > 0) r.problem(k, 'belongs in [source]: it is one setting for the whole process');
    return { uploadTtlMs: r.seconds('upload_ttl') };
  }
  const dir = r.string('state_dir');
  if (dir !== undefined && dir === '') r.problem('state_dir', 'is empty: give a directory, or leave it out');
  return { ...(dir ? { stateDir: r.path('state_dir') } : {}), uploadTtlMs: r.seconds('upload_ttl') };
}

/** `bwlimit` (the source's: one budget for the process) and `tps_limit`/`tps_burst` (each section's). */
function limits(r: Reader): { bwlimit?: Bandwidth; tpsLimit?: number; tpsBurst: number } {
  if (r.section !== 'source' && r.has('bwlimit') && r.level('bwlimit') > 0)
    r.problem('bwlimit', 'belongs in [source]: it limits the bytes read from the source, for the whole process');
  const bwlimit = r.section === 'source' ? r.bandwidth('bwlimit') : undefined;
  const tpsLimit = r.rate('tps_limit');
  const tpsBurst = r.integer('tps_burst');
  if (tpsLimit === undefined && r.has('tps_burst') && r.level('tps_burst') > 0)
    r.warn('tps_burst', 'is unused: it applies only with tps_limit');
  return { ...(bwlimit ? { bwlimit } : {}), ...(tpsLimit !== undefined ? { tpsLimit } : {}), tpsBurst };
}

/** `prefix`, and the destination-only keys that say how it deletes. */
function deletion(r: Reader): Pick<EndpointSettings, 'prefix' | 'delete' | 'deleteMode' | 'trashPrefix' | 'maxDelete'> {
  const prefix = r.text('prefix');
  if (prefix.startsWith('/'))
    r.problem(
      'prefix',
      `"${prefix}" starts with "/": keys have no leading slash unless they hold one; write e.g. prefix = images/`,
    );
  if (Buffer.byteLength(prefix, 'utf8') >= 1024)
    r.problem('prefix', 'is 1024 bytes or longer: no key could fit under it');
  const isSource = r.section === 'source';
  if (isSource) {
    for (const k of ['delete', 'delete_mode', 'trash_prefix', 'max_delete']) {
      if (r.has(k)) r.problem(k, 'belongs in a [dest*] section: s3s3 never deletes or changes anything in the source');
    }
  }
  const del = r.has('delete') && !isSource ? r.boolean('delete') : undefined;
  const deleteMode = isSource ? 'delete' : r.oneOf<'delete' | 'trash' | 'versions'>('delete_mode');
  const trash = isSource ? undefined : r.string('trash_prefix');
  if (trash !== undefined && trash === '')
    r.problem('trash_prefix', 'is empty: give a prefix such as .s3s3-trash/ (or leave it out for the default)');
  let maxDelete: MaxDelete | undefined;
  // Not set: undefined, so `--max-delete` can still decide; the sweep applies the table's default.
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
  const verifySsl = r.boolean('verify_ssl');
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
      `= false: the TLS certificate of ${endpoint ?? 'the endpoint'} is NOT checked; anyone on the network path ` +
        `can read and change the data and the credentials. ` +
        `Trust the server's CA with ca_bundle = FILE instead` +
        `${r.has('ca_bundle') ? ' (ca_bundle is ignored while verify_ssl = false)' : ''}`,
    );
  }
  return { ...(caBundle !== undefined ? { caBundle } : {}), verifySsl };
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
export function keysOfOtherType(r: Reader, type: EndpointType): void {
  const own = keyNames(type);
  for (const key of keyNames(type === 'swift' ? 's3' : 'swift')) {
    if (own.includes(key) || !r.has(key)) continue;
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
