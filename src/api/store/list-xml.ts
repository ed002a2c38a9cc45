/**
 * A ListObjects / ListObjectsV2 answer (ListBucketResult) read into the SDK's output shape,
 * for the lean path. Values are taken exactly as sent, entities decoded: unlike the SDK's
 * parser, no whitespace is trimmed (a key may start or end with spaces).
 */
export interface ListedObject {
  Key?: string;
  Size?: number;
  ETag?: string;
  LastModified?: Date;
}

/** A listing page in the SDK's output shape (v1 and v2 fields), as the lean path parses it. */
export interface ListOutput {
  Contents: ListedObject[];
  IsTruncated: boolean;
  NextMarker?: string;
  NextContinuationToken?: string;
  EncodingType?: string;
}

const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML text with its entities (named and numeric) decoded. */
export function decodeXmlText(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (m, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED[name]!;
    const code = hex !== undefined ? parseInt(hex, 16) : parseInt(dec!, 10);
    // Not a code point: kept as written, rather than failing the page for ever.
    return code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

/** The text of the first `<name>` element in `xml` (undefined when absent; '' for `<name/>`). */
export function element(xml: string, name: string): string | undefined {
  const open = xml.indexOf(`<${name}>`);
  if (open < 0) return xml.includes(`<${name}/>`) ? '' : undefined;
  const start = open + name.length + 2;
  const end = xml.indexOf(`</${name}>`, start);
  return end < 0 ? undefined : decodeXmlText(xml.slice(start, end));
}

/** Throws when the body is not a ListBucketResult (an HTML error page, a truncated body). */
export function parseListing(xml: string): ListOutput {
  if (!xml.includes('<ListBucketResult') || !xml.includes('</ListBucketResult>')) {
    throw new Error(`not a ListBucketResult: ${JSON.stringify(xml.slice(0, 120))}`);
  }
  const contents: ListedObject[] = [];
  // The keys come before <Contents> blocks' other fields in no fixed order: read each block.
  let at = 0;
  for (;;) {
    const open = xml.indexOf('<Contents>', at);
    if (open < 0) break;
    const close = xml.indexOf('</Contents>', open);
    if (close < 0) throw new Error('a <Contents> element is not closed');
    const block = xml.slice(open + 10, close);
    const size = element(block, 'Size');
    const modified = element(block, 'LastModified');
    contents.push({
      Key: element(block, 'Key'),
      Size: size === undefined ? undefined : Number(size),
      ETag: element(block, 'ETag'),
      LastModified: modified === undefined ? undefined : new Date(modified),
    });
    at = close + 11;
  }
  // The trailer (everything but the <Contents> blocks) holds the page's own fields.
  const head = xml.slice(0, xml.indexOf('<Contents>') < 0 ? xml.length : xml.indexOf('<Contents>')) + xml.slice(at);
  const out: ListOutput = { Contents: contents, IsTruncated: element(head, 'IsTruncated')?.trim() === 'true' };
  const marker = element(head, 'NextMarker');
  if (marker !== undefined) out.NextMarker = marker;
  const token = element(head, 'NextContinuationToken');
  if (token !== undefined) out.NextContinuationToken = token;
  const encoding = element(head, 'EncodingType');
  if (encoding !== undefined) out.EncodingType = encoding.trim();
  return out;
}

/** One `<Version>` or `<DeleteMarker>` of a ListVersionsResult, in the SDK's field names. */
export interface ListedVersion {
  Key?: string;
  VersionId?: string;
  IsLatest: boolean;
  DeleteMarker: boolean;
  Size?: number;
  ETag?: string;
  LastModified?: Date;
}

/** A ListObjectVersions page: versions and delete markers in the order the server sent them. */
export interface VersionListOutput {
  Entries: ListedVersion[];
  IsTruncated: boolean;
  EncodingType?: string;
}

/**
 * A ListVersionsResult, its `<Version>` and `<DeleteMarker>` elements kept in document order
 * (the SDK splits them into two lists, losing the order of a key's history).
 */
export function parseVersionListing(xml: string): VersionListOutput {
  if (!xml.includes('<ListVersionsResult') || !xml.includes('</ListVersionsResult>'))
    throw new Error(`not a ListVersionsResult: ${JSON.stringify(xml.slice(0, 120))}`);
  const entries: ListedVersion[] = [];
  let at = 0;
  let first = -1;
  for (;;) {
    const v = xml.indexOf('<Version>', at);
    const d = xml.indexOf('<DeleteMarker>', at);
    if (v < 0 && d < 0) break;
    const marker = v < 0 || (d >= 0 && d < v);
    const open = marker ? d : v;
    const name = marker ? 'DeleteMarker' : 'Version';
    if (first < 0) first = open;
    const close = xml.indexOf(`</${name}>`, open);
    if (close < 0) throw new Error(`a <${name}> element is not closed`);
    const block = xml.slice(open + name.length + 2, close);
    const size = element(block, 'Size');
    const modified = element(block, 'LastModified');
    entries.push({
      Key: element(block, 'Key'),
      VersionId: element(block, 'VersionId'),
      IsLatest: element(block, 'IsLatest')?.trim() === 'true',
      DeleteMarker: marker,
      Size: size === undefined ? undefined : Number(size),
      ETag: element(block, 'ETag'),
      LastModified: modified === undefined ? undefined : new Date(modified),
    });
    at = close + name.length + 3;
  }
  const head = xml.slice(0, first < 0 ? xml.length : first) + xml.slice(at);
  const out: VersionListOutput = { Entries: entries, IsTruncated: element(head, 'IsTruncated')?.trim() === 'true' };
  const encoding = element(head, 'EncodingType');
  if (encoding !== undefined) out.EncodingType = encoding.trim();
  return out;
}
