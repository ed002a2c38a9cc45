/**
 * Prompt reclaiming of the buffers a copy streams. Every socket read is a new 64 KiB Buffer,
 * freed only when V8 collects it, and V8 waits until 64 MiB of such external memory has
 * piled up before it scavenges: with 8 objects streaming that is ~45 MiB of dead buffers on
 * top of the live ones. s3s3bucket and s3s3listen start with `--expose-gc` and turn this on
 * (`reclaimStreamedBuffers()`): a minor GC every 4 MiB streamed frees them as they die.
 * Measured on 8 x 64 MiB streamed (Ceph, concurrency 16): peak RSS 115-121 MiB -> 81-84 MiB,
 * client CPU unchanged within the noise; every 8 MiB kept ~94 MiB, every 16 MiB did nothing,
 * at most one per 20 ms 85-94 MiB, a major GC every 64 MiB besides no better. Off in a library
 * (an application's own --expose-gc included).
 */

/** Bytes streamed between two minor GCs. */
const EVERY = 4 * 1024 * 1024;

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;
let gc: GcFunction | undefined;
let since = 0;

/** Turns the reclaiming on, where the process exposes gc (the bins' `--expose-gc`); false where it cannot. */
export function reclaimStreamedBuffers(): boolean {
  gc = (globalThis as { gc?: GcFunction }).gc;
  return gc !== undefined;
}

/** Counts `n` bytes streamed by a copy; a minor GC once every EVERY bytes, when turned on. */
export function streamed(n: number): void {
  if (gc === undefined) return;
  since += n;
  if (since < EVERY) return;
  since = 0;
  gc({ type: 'minor' });
}
