/** Checking the bytes read against a multipart object's `-N` ETag. */
import { createHash, type Hash } from 'node:crypto';

const MiB = 1024 * 1024;
/** Part sizes in wide use: the AWS CLI (8 MiB), the SDKs' minimum (5 MiB), rclone, mc, s3s3. */
const COMMON = [5, 8, 16, 10, 15, 32, 50, 64, 100, 128, 256, 512].map((n) => n * MiB);
const MAX_CANDIDATES = 8;

/** N of a multipart ETag (`<hex>-N`), else undefined. */
export function multipartParts(etag: string): number | undefined {
  const m = /^[0-9a-f]{32}-(\d+)$/.exec(etag);
  return m ? Number(m[1]) : undefined;
}

/** Part sizes that cut `size` bytes into exactly `parts` parts, the likely ones first. */
export function candidatePartSizes(size: number, parts: number, hints: readonly number[] = []): number[] {
  if (parts < 1 || size < 1) return [];
  if (parts === 1) return [size];
  const low = Math.ceil(size / parts);
  const high = Math.ceil(size / (parts - 1)) - 1;
  if (low > high) return [];
  const fits = (p: number) => p >= low && p <= high && Math.ceil(size / p) === parts;
  const out = new Set<number>();
  for (const p of [...hints, ...COMMON]) if (fits(p)) out.add(p);
  for (let p = Math.ceil(low / MiB) * MiB; p <= high && out.size < MAX_CANDIDATES; p += MiB) if (fits(p)) out.add(p);
  return [...out].slice(0, MAX_CANDIDATES);
}

/**
 * Hashes a stream as N parts of each candidate size at once.
 *
 * A multipart object's ETag is `md5(md5(part1) || md5(part2) ...)-N`: no MD5 of the bytes,
 * but still a check on them if the part size is known. It is not stored anywhere, so the
 * sizes that could have made N parts of this object (MiB-aligned, as every SDK and tool cuts
 * them, preferring the common ones) are tried while the bytes stream by; one that yields the
 * source's ETag proves the bytes read are the bytes stored.
 */
export class PartEtagHasher {
  private readonly lanes: Array<{ size: number; fill: number; part: Hash; parts: Buffer[] }>;

  constructor(partSizes: readonly number[]) {
    this.lanes = partSizes.map((size) => ({ size, fill: 0, part: createHash('md5'), parts: [] }));
  }

  update(chunk: Buffer): void {
    for (const lane of this.lanes) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(chunk.length - offset, lane.size - lane.fill);
        lane.part.update(chunk.subarray(offset, offset + n));
        lane.fill += n;
        offset += n;
        if (lane.fill === lane.size) {
          lane.parts.push(lane.part.digest());
          lane.part = createHash('md5');
          lane.fill = 0;
        }
      }
    }
  }

  /** The multipart ETag each candidate part size gives for the bytes seen (call once, at the end). */
  etags(): string[] {
    return this.lanes.map((lane) => {
      const parts = lane.fill > 0 ? [...lane.parts, lane.part.digest()] : lane.parts;
      return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
    });
  }
}
