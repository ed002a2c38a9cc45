/**
 * The S3 backend's section reader (`type = s3`, the default): its own keys from the table,
 * and its rules across keys — `endpoint` against `host`/`port`/`is_secure`, and the original
 * s3s3's `calling_format` mapped to path-style or virtual-hosted addressing.
 */
import { hideSecrets } from '../redact.js';
import { readShared } from './endpoint.js';
import type { Reader } from './reader.js';
import type { AclSetting, ChecksumMode, S3EndpointConfig, SignatureVersion } from './types.js';

/** An S3 section (`[source]` or `[dest*]` without `type = swift`); undefined after a problem. */
export function readS3(r: Reader): S3EndpointConfig | undefined {
  const before = r.problemCount();
  r.fromFiles(['aws_access_key_id', 'aws_secret_access_key']);
  const bucket = r.required('bucket_name');
  const accessKeyId = r.required('aws_access_key_id');
  const secretAccessKey = r.required('aws_secret_access_key');
  const endpoint = readEndpointUrl(r);
  const forcePathStyle = readCallingFormat(r);
  const result: S3EndpointConfig = {
    name: r.section,
    type: 's3',
    bucket: bucket ?? '',
    accessKeyId: accessKeyId ?? '',
    secretAccessKey: secretAccessKey ?? '',
    endpoint: endpoint ?? '',
    region: r.text('region'),
    forcePathStyle,
    signatureVersion: r.oneOf<SignatureVersion>('signature_version'),
    requestChecksumCalculation: r.oneOf<ChecksumMode>('request_checksum_calculation'),
    responseChecksumValidation: r.oneOf<ChecksumMode>('response_checksum_validation'),
    leanRequests: r.boolean('lean_requests'),
    listObjectsVersion: r.integer('list_objects_version') === 1 ? 1 : 2,
    listUrlEncoding: r.boolean('list_url_encoding'),
    ...readShared(r, endpoint),
    ...readStorageClass(r),
    ...readAcl(r),
    ...readObjectLock(r),
    ...readVersions(r),
  };
  if (bucket !== undefined && bucket !== '' && !/^[A-Za-z0-9._-]{1,255}$/.test(bucket)) {
    r.problem('bucket_name', `"${bucket}" is not a valid bucket name (letters, digits, ".", "-", "_")`);
  }
  return r.problemCount() === before ? hideSecrets(result, ['secretAccessKey']) : undefined;
}

/** `storage_class` in a destination: a class name as S3 spells them, or `copy`. */
function readStorageClass(r: Reader): { storageClass?: string } {
  const value = r.string('storage_class');
  if (value === undefined || value === '') return {};
  if (r.section === 'source') {
    r.problem('storage_class', 'belongs in a [dest*] section: it says how copies are written');
    return {};
  }
  if (value !== 'copy' && !/^[A-Z][A-Z0-9_]{0,63}$/.test(value)) {
    r.problem(
      'storage_class',
      `"${value}" is not a storage class name (upper case, e.g. STANDARD_IA or GLACIER_IR) nor copy`,
    );
    return {};
  }
  return { storageClass: value };
}

/** `acl` in a destination: a canned ACL or `copy`. */
function readAcl(r: Reader): { acl?: AclSetting } {
  if (!r.has('acl')) return {};
  if (r.section === 'source') {
    r.problem('acl', 'belongs in a [dest*] section: it says how copies are written');
    return {};
  }
  const acl = r.oneOf<AclSetting>('acl');
  return acl === undefined ? {} : { acl };
}

/** `versions` in the source. */
function readVersions(r: Reader): { versions?: boolean } {
  if (!r.has('versions')) return {};
  if (r.section !== 'source') {
    r.problem('versions', 'belongs in [source]: it says what is copied; every destination then keeps versions');
    return {};
  }
  return r.boolean('versions') ? { versions: true } : {};
}

/** `object_lock` in a destination: `copy`. */
function readObjectLock(r: Reader): { objectLock?: 'copy' } {
  if (!r.has('object_lock')) return {};
  if (r.section === 'source') {
    r.problem('object_lock', 'belongs in a [dest*] section: it says how copies are written');
    return {};
  }
  return r.oneOf<'copy'>('object_lock') === 'copy' ? { objectLock: 'copy' } : {};
}

/** `endpoint`, or the original's `host`/`port`/`is_secure` (not both): scheme, host and port. */
function readEndpointUrl(r: Reader): string | undefined {
  if (r.has('endpoint')) {
    for (const k of ['host', 'port', 'is_secure']) {
      if (r.has(k)) r.problem(k, 'conflicts with "endpoint"; set either endpoint or host/port/is_secure');
    }
    const value = r.string('endpoint');
    return value !== undefined ? normaliseEndpoint(value, (m) => r.problem('endpoint', m)) : undefined;
  }
  const secure = r.boolean('is_secure');
  const defaultPort = secure ? 443 : 80;
  const defaultHost = r.def('host').default!;
  const host = r.string('host', defaultHost) ?? defaultHost;
  const port = r.integer('port', defaultPort);
  if (host === '' || /[/\s]/.test(host)) {
    r.problem(
      'host',
      `"${host}" is not a host name; use e.g. host = s3.example.com, or endpoint = https://s3.example.com:8443`,
    );
    return undefined;
  }
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${secure ? 'https' : 'http'}://${h}${port === defaultPort ? '' : `:${port}`}`;
}

/** `calling_format` (boto's class names, or `path`/`virtual`): true for path-style, the default. */
function readCallingFormat(r: Reader): boolean {
  const callingFormat = r.string('calling_format');
  if (callingFormat === undefined) return true;
  const short = callingFormat.replace(/\(\)$/, '').split('.').pop()!.toLowerCase();
  if (short === 'ordinarycallingformat' || short === 'path') return true;
  if (short === 'subdomaincallingformat' || short === 'virtual') return false;
  r.problem(
    'calling_format',
    `"${callingFormat}" is not OrdinaryCallingFormat (path-style) or SubdomainCallingFormat (virtual-hosted)`,
  );
  return true;
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
