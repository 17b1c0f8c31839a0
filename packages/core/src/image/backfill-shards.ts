import type { AwsClients } from "../aws/clients.ts";
import type { Config } from "../config.ts";
import { createDb, type Db } from "../db/service.ts";
import { commitTransaction } from "../db/transaction.ts";
import { isConditionFailure } from "../errors.ts";
import { shardOf } from "./listing-shards.ts";
import { createMonthCatalog, type MonthCatalog } from "./month-catalog.ts";
import { listingFields, type ImageRecord } from "./records.ts";

/**
 * `npm run listings:backfill`: puts the images stored before the listings' write shards
 * (44390a7) into their shard. Such an image has no `shard`, and its month and tag index keys
 * lack the shard part, so no listing that reads by month or tag finds it. The ids come from the
 * caller (packages/audit Scans for them, as for the renditions backfill: an operator tool, never
 * part of serving a request).
 *
 * An image's shard is `shardOf(imageId, S)`, S the count the catalog records for its month, or
 * LISTING_SHARDS when it records none (the month is noted with it first, so every reader reads
 * that many shards before the image is in one). One transaction writes the image again with its
 * shard and every tag item with it (their index keys rebuilt), conditioned on the image's
 * revision, which it bumps as an edit does: a concurrent edit, trash or delete wins, and the
 * image is tried again as it is then (or skipped, gone). A trashed image gets no tag items
 * (restore writes them from the record). An image that has its shard is never touched, so
 * running it again does nothing.
 */
export interface ShardBackfillOptions {
  config: Config;
  clients: AwsClients;
  /** The ids of the images to put into their shard, a page at a time; those in one are skipped. */
  imagePages: AsyncIterable<string[]>;
  /** Told of each image as it is finished with. */
  onImage?: (outcome: ShardBackfillOutcome) => void;
}

export interface ShardBackfillOutcome {
  imageId: string;
  outcome: "done" | "skipped" | "failed";
  detail: string;
}

export interface ShardBackfillReport {
  done: number;
  skipped: number;
  failed: number;
  outcomes: ShardBackfillOutcome[];
}

/** What putting an image into its shard needs of the store. */
export interface ShardingDeps {
  config: Pick<Config, "listingShards">;
  db: Db;
  months: MonthCatalog;
}

/** A commit that lost its race with an edit is tried again on the new revision this often. */
const COMMIT_ATTEMPTS = 3;
/** Images worked on at once: each is a catalog read (cached) and one transaction. */
const CONCURRENCY = 4;

/** Whether the record has the shard every image stored since 44390a7 has. */
export const hasShard = (record: { shard?: unknown }) => typeof record.shard === "number";

/**
 * The record as it is once in its write shard. An image stored before the shards is written
 * again with its shard, its tag items too, in one transaction conditioned on `record.revision`
 * (a condition failure is thrown: the caller reads again); any other is answered as it is. The
 * edit, trash and restore of such an image go through here first, so each finds it sharded.
 */
export async function moveIntoShard(deps: ShardingDeps, record: ImageRecord): Promise<ImageRecord> {
  if (hasShard(record)) return record;
  const shards = (await deps.months.read()).shardsByMonth.get(record.month) ?? deps.config.listingShards;
  // Before the image is in a shard of that count, every reader must read that many.
  await deps.months.noteMonth(record.month, shards);
  const next: ImageRecord = { ...record, shard: shardOf(record.imageId, shards), revision: record.revision + 1 };
  await commitTransaction(
    deps.db.transaction
      .write(({ image: images, imageTag: tags }) => [
        images
          .put(next)
          .where((attr, op) => op.eq(attr.revision, record.revision))
          .commit(),
        ...(next.trashedAt === undefined
          ? next.tags.map((tag) => tags.put({ ...listingFields(next), tag }).commit())
          : []),
      ])
      .go(),
  );
  return next;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function backfillShards({
  config,
  clients,
  imagePages,
  onImage = () => undefined,
}: ShardBackfillOptions): Promise<ShardBackfillReport> {
  const db = createDb(clients.dynamo, config.tableName);
  const deps: ShardingDeps = { config, db, months: createMonthCatalog(db) };
  const read = async (imageId: string) =>
    ((await db.entities.image.get({ imageId }).go({ consistent: true })).data as ImageRecord | null) ?? null;

  async function backfillOne(imageId: string): Promise<ShardBackfillOutcome> {
    const outcome = (kind: ShardBackfillOutcome["outcome"], detail: string) => ({ imageId, outcome: kind, detail });
    let current = await read(imageId);
    for (let attempt = 1; ; attempt++) {
      if (!current) return outcome("skipped", "deleted since the scan");
      if (hasShard(current)) return outcome("skipped", `in shard ${current.shard} already`);
      try {
        const next = await moveIntoShard(deps, current);
        return outcome("done", `shard ${next.shard} of month ${next.month}${next.trashedAt ? " (trashed)" : ""}`);
      } catch (error) {
        const now = await read(imageId);
        // The commit happened; only its answer was lost.
        if (!isConditionFailure(error) && now && hasShard(now) && now.revision === current.revision + 1) {
          return outcome("done", `shard ${now.shard} of month ${now.month}`);
        }
        if (!isConditionFailure(error) || attempt >= COMMIT_ATTEMPTS) {
          return outcome("failed", `saving: ${messageOf(error)}`);
        }
        // Lost a race with an edit, trash or delete: tried again on what is there now.
        current = now;
      }
    }
  }

  const report: ShardBackfillReport = { done: 0, skipped: 0, failed: 0, outcomes: [] };
  for await (const ids of imagePages) {
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const imageId = ids[next++]!;
        const result = await backfillOne(imageId).catch((error: unknown): ShardBackfillOutcome => ({
          imageId,
          outcome: "failed",
          detail: messageOf(error),
        }));
        report[result.outcome] += 1;
        report.outcomes.push(result);
        onImage(result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, Math.max(1, ids.length)) }, worker));
  }
  return report;
}
