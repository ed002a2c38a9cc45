/** Every key shape DESIGN.md says each layer must carry unchanged. */

function keyOfBytes(prefix: string, bytes: number): string {
  // Fill with a 2-byte character, then pad with ASCII to land exactly on `bytes`.
  let key = prefix;
  while (Buffer.byteLength(key + '\u00e9', 'utf8') <= bytes - 1) key += '\u00e9';
  while (Buffer.byteLength(key, 'utf8') < bytes) key += 'x';
  return key;
}

/**
 * Every control character (0x01-0x1f, 0x7f), alone as a whole key and inside a longer one:
 * XML 1.0 cannot carry them, so listings must ask for URL encoding (Swift s3api answers 500
 * otherwise) and DeleteObjects must not be used for them.
 */
export const CONTROL_KEYS: readonly string[] = [0x7f, ...Array.from({ length: 31 }, (_, i) => i + 1)].flatMap(
  (code) => {
    const c = String.fromCharCode(code);
    return [c, `ctl/x${c}y${code.toString(16)}`];
  },
);

export const KEY_SHAPES: readonly string[] = [
  'plain.txt',
  'with space/and more spaces.txt',
  'punct/plus+sign',
  'punct/percent%20and%',
  'punct/question?mark',
  'punct/hash#tag',
  'punct/amp&ersand',
  'punct/eq=als',
  'punct/semi;colon',
  'punct/co:lon',
  'punct/at@sign',
  'punct/dol$lar',
  'punct/com,ma',
  'punct/all + % ? # & = ; : @ $ ,',
  'quotes/double"quote',
  "quotes/single'quote",
  'quotes/back\\slash',
  'unicode/caf\u00e9',
  'unicode/cafe\u0301',
  'unicode/emoji-\u{1F600}-\u{2070E}',
  'unicode/\u4e2d\u6587/\u{1F680}',
  '/leading-slash',
  'double//slash',
  'dir/marker/',
  `long/${'s'.repeat(300)}/end`,
  keyOfBytes('exact1024/', 1024),
  ' leading and trailing space ',
  ...CONTROL_KEYS,
];

/** Keys that differ in UTF-16 order and UTF-8 byte order (above U+FFFF vs U+FFxx). */
export const ORDER_KEYS: readonly string[] = ['order/\uff5e', 'order/\u{1F600}', 'order/a', 'order/\u00e9'];
