/**
 * An async iterable read to the end into an array (what Array.fromAsync does, which Node 20's
 * runtime and our ES2023 lib lack): the store's generators and the audit export are async.
 */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
