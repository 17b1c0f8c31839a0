/**
 * Waits for every write to finish before reporting the first failure, so that a cleanup
 * which follows cannot run before a write still in flight lands and leaves it orphaned.
 */
export async function settleAll(writes: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(writes);
  for (const result of results) if (result.status === "rejected") throw result.reason;
}
