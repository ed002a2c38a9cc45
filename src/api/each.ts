/**
 * A bounded pool over a known list. Leaf module.
 */

/** `fn` over `items`, at most `n` at once; the first rejection rejects, as Promise.all's. */
export async function eachAtMost<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(n, items.length)) }, worker));
}
