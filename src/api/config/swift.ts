/**
 * The Swift backend's section reader (`type = swift`): a container over Swift's own API, and
 * its rules across keys — the auth URL's version decides between the auth v1 keys
 * (`user`, `key`) and the Keystone v3 ones (`username`, `password`, `project_name`, domains).
 */
import { hideSecrets } from '../redact.js';
import { readShared } from './endpoint.js';
import type { Reader } from './reader.js';
import type { SwiftConfig, SwiftEndpointConfig } from './types.js';

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
      `"${value}" is not a Swift storage URL; use e.g. storage_url = https://swift.example.com/v1/AUTH_account ` +
        '(or remove it to take the one auth_url names)',
    );
    return undefined;
  }
  return value.replace(/\/+$/, '');
}

/** A `type = swift` section: a container reached through Swift's own API; undefined after a problem. */
export function readSwift(r: Reader): SwiftEndpointConfig | undefined {
  const before = r.problemCount();
  const container = r.required('container');
  if (container !== undefined && container !== '') {
    // Large objects put their segments in `<container>_segments`: that name must fit in 256 bytes too.
    if (container.includes('/') || Buffer.byteLength(container, 'utf8') > 247) {
      r.problem(
        'container',
        `"${container}" is not a usable container name: no "/", and at most 247 bytes ` +
          '(s3s3 adds "_segments" for the segments of large objects)',
      );
    }
  }
  const authUrl = r.required('auth_url');
  const version = authUrl ? swiftAuthVersion(authUrl) : undefined;
  if (authUrl && version === undefined) {
    r.problem(
      'auth_url',
      `"${authUrl}" is neither an auth v1 URL (http(s)://HOST/auth/v1.0, tempauth or Cloud Files) ` +
        'nor a Keystone v3 URL (http(s)://HOST/v3)',
    );
  }
  const wrong = version === 1 ? V3_KEYS : version === 3 ? V1_KEYS : [];
  for (const key of wrong) {
    if (r.has(key) && r.level(key) > 0) {
      r.problem(
        key,
        version === 1
          ? 'is for Keystone v3 (an auth_url ending in /v3); auth v1 takes user and key'
          : 'is for auth v1 (an auth_url ending in /auth/v1.0); ' +
              'Keystone v3 takes username, password and project_name',
      );
    }
  }
  let user: string | undefined;
  let secret: string | undefined;
  let project: Pick<SwiftConfig, 'projectName' | 'userDomainName' | 'projectDomainName' | 'region'> = {};
  if (version === 1) {
    r.fromFile('key');
    user = r.required('user');
    secret = r.required('key');
  } else if (version === 3) {
    r.fromFile('password');
    user = r.required('username');
    secret = r.required('password');
    const projectName = r.required('project_name');
    // A region from [DEFAULT] is an S3 region: only one set in this section (or its env) picks a catalog entry.
    const region = r.has('region') && r.level('region') > 0 ? r.string('region') : undefined;
    project = {
      projectName: projectName ?? '',
      userDomainName: r.text('user_domain_name'),
      projectDomainName: r.text('project_domain_name'),
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
  const result: SwiftEndpointConfig = {
    name: r.section,
    type: 'swift',
    swift,
    bucket: container ?? '',
    endpoint,
    // Swift lists up to 10,000 names a page (container_listing_limit): the table's range for swift.
    ...readShared(r, secure ?? endpoint),
  };
  return r.problemCount() === before ? hideSecrets(result, []) : undefined;
}
