import { storageUnavailable, toAppError } from "../errors.ts";

/** BatchGetItem leaves keys unprocessed under load: they are asked again this often. */
const BATCH_ATTEMPTS = 4;

/**
 * Every item of `keys` that exists, by one ElectroDB batch get (`get`, which splits the keys into
 * BatchGetItem calls of 100) and again for the keys DynamoDB left unprocessed, up to
 * BATCH_ATTEMPTS rounds; `unavailable` when some are still left then. `what` names the work in
 * the error, as toAppError does.
 */
export async function batchGetAll<Key, Item>(
  get: (keys: Key[]) => Promise<{ data: Item[]; unprocessed: unknown[] }>,
  keys: Key[],
  what: string,
): Promise<Item[]> {
  const found: Item[] = [];
  let left = keys;
  try {
    for (let attempt = 1; left.length > 0 && attempt <= BATCH_ATTEMPTS; attempt++) {
      const { data, unprocessed } = await get([...left]);
      found.push(...data);
      left = unprocessed as Key[];
    }
  } catch (error) {
    throw toAppError(error, what);
  }
  if (left.length > 0) throw storageUnavailable(what);
  return found;
}
