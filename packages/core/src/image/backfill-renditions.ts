import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ulid } from "ulid";
import type { AwsClients } from "../aws/clients.ts";
import type { Config } from "../config.ts";
import { createDb } from "../db/service.ts";
import { commitTransaction } from "../db/transaction.ts";
import { isConditionFailure } from "../errors.ts";
import { createObjectStore, objectKeys } from "../storage/object-store.ts";
import { createDecodeSlots } from "./decode-slots.ts";
import { checkImage, type Ladder } from "./processing.ts";
import { listingFields, objectKeysOf, type ImageRecord, type RenditionRecord } from "./records.ts";
import { renditionRecords, storeRenditions } from "./renditions.ts";
import { discardStaged, stageObjects, type StagedRun } from "./staged-objects.ts";

/**
 * `npm run renditions:backfill`: gives the images stored before the size ladder their renditions
 * and placeholder, as storing them today would have. An operator tool run now and then, never
 * part of serving a request: the ids come from its caller (packages/audit reads the whole table
 * for them, as the store checker does: the table has no index over "has no ladder", and one is not
 * worth keeping for a backlog that only shrinks; the core itself reads only by key).
 *
 * For each image: the stored original is read into a temporary file, checked (the pixel limits
 * apply) and shrunk once into the ladder inside a decode slot (`DECODE_CONCURRENCY` at once); the
 * renditions go under keys of this run's own; then one transaction writes `renditions`,
 * `placeholder` and `thumbnailKey` (the smallest rendition) on the image item and every tag item,
 * conditioned on the image's revision, which it bumps as an edit does: an edit or delete that
 * read the image before cannot then write the old fields back or miss the new objects (it tries
 * again on the new revision). The old thumbnail object goes after the commit; a run that lost
 * its race for good deletes the renditions it stored. Images that have their ladder are never
 * touched, so running it again does nothing.
 */
export interface BackfillOptions {
  config: Config;
  clients: AwsClients;
  /** Where originals are read to while they are shrunk; the OS temp folder by default. */
  tempDir?: string;
  /** Told of each image as it is finished with, in the order they finish. */
  onImage?: (outcome: BackfillOutcome) => void;
  /** Failures that leave something behind (objects not deleted). */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** The ids of the images to give a ladder, a page at a time; those that have one are skipped. */
  imagePages: AsyncIterable<string[]>;
}

export interface BackfillOutcome {
  imageId: string;
  outcome: "done" | "skipped" | "failed";
  detail: string;
}

export interface BackfillReport {
  done: number;
  skipped: number;
  failed: number;
  outcomes: BackfillOutcome[];
}

/** A commit that lost its race with an edit is tried again on the new revision this often. */
const COMMIT_ATTEMPTS = 3;
const FOLDER_PREFIX = "images-backfill-";

/** The ladder and placeholder today's images are stored with. */
export const hasLadder = (record: Pick<ImageRecord, "renditions" | "placeholder">) =>
  (record.renditions?.length ?? 0) > 0 && typeof record.placeholder === "string";

const sameRenditions = (a: RenditionRecord[] | undefined, b: RenditionRecord[]) =>
  JSON.stringify(a?.map((r) => r.key)) === JSON.stringify(b.map((r) => r.key));

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function backfillRenditions({
  config,
  clients,
  tempDir = tmpdir(),
  onImage = () => undefined,
  log = (event, fields) => console.error(JSON.stringify({ level: "error", event, ...fields })),
  imagePages,
}: BackfillOptions): Promise<BackfillReport> {
  const db = createDb(clients.dynamo, config.tableName);
  const { image } = db.entities;
  const objects = createObjectStore(clients.s3, config.bucketName);
  const withDecodeSlot = createDecodeSlots(config.decodeConcurrency);

  const read = async (imageId: string) =>
    ((await image.get({ imageId }).go({ consistent: true })).data as ImageRecord | null) ?? null;

  const staging = { db, objects, now: () => new Date(), log };
  const discard = async (keys: string[], reason: string) => {
    try {
      await objects.deleteMany(keys);
    } catch (error) {
      log("orphaned_objects", { keys, reason, error: String(error) });
    }
  };

  async function backfillOne(imageId: string): Promise<BackfillOutcome> {
    const outcome = (kind: BackfillOutcome["outcome"], detail: string): BackfillOutcome => ({
      imageId,
      outcome: kind,
      detail,
    });
    let current = await read(imageId);
    if (!current) return outcome("skipped", "deleted since the scan");
    if (hasLadder(current)) return outcome("skipped", "has its renditions already");

    const folder = await mkdtemp(join(tempDir, FOLDER_PREFIX));
    let ladder: Ladder;
    try {
      const original = join(folder, "original");
      if (!(await objects.downloadToFile(current.objectKey, original))) {
        return outcome("failed", `its original ${current.objectKey} is missing`);
      }
      const checked = await checkImage(original, { maxPixels: config.maxImagePixels });
      ladder = await withDecodeSlot(() => checked.ladder());
    } catch (error) {
      return outcome("failed", messageOf(error));
    } finally {
      await rm(folder, { recursive: true, force: true }).catch(() => undefined);
    }

    // Keys of this run's own: two runs at once must not delete what the other's commit names.
    const version = ulid().slice(-10).toLowerCase();
    const renditions = renditionRecords(imageId, ladder, version);
    const stored = renditions.map((rendition) => rendition.key);
    // Named before they are written, as an upload's are: a run that stops before its commit
    // leaves them to the staged record's purge (staged-objects.ts).
    const staged: StagedRun = { imageId, run: version, keys: stored };
    try {
      await stageObjects(staging, staged);
    } catch (error) {
      return outcome("failed", `storing its renditions: ${messageOf(error)}`);
    }
    try {
      await storeRenditions(objects, renditions, ladder);
    } catch (error) {
      await discardStaged(staging, staged, "backfill failed while storing renditions");
      return outcome("failed", `storing its renditions: ${messageOf(error)}`);
    }

    for (let attempt = 1; ; attempt++) {
      const before: ImageRecord = current;
      const next: ImageRecord = {
        ...before,
        renditions,
        placeholder: ladder.placeholder,
        thumbnailKey: renditions[0]!.key,
        revision: before.revision + 1,
      };
      try {
        await commitTransaction(
          db.transaction
            .write(({ image: images, imageTag: tags, stagedObjects }) => [
              images
                .put(next)
                .where((attr, op) => op.eq(attr.revision, before.revision))
                .commit(),
              stagedObjects.delete({ imageId, run: version }).commit(),
              // Every tag item carries the listing's fields, as update() writes them; a trashed
              // image has none (restore writes them from the record).
              ...(next.trashedAt === undefined
                ? next.tags.map((tag) => tags.put({ ...listingFields(next), tag }).commit())
                : []),
            ])
            .go(),
        );
      } catch (error) {
        let now: ImageRecord | null;
        try {
          now = await read(imageId);
        } catch (readError) {
          // Whether the commit happened is unknown: the objects stay, the image's if it did, and
          // the staged record's purge takes them if it did not.
          return outcome(
            "failed",
            `saving: ${messageOf(error)}; reading it back: ${messageOf(readError)}; kept ${stored.join(", ")}`,
          );
        }
        if (!(now && sameRenditions(now.renditions, renditions))) {
          // Lost a race with an edit: the same ladder goes onto the new revision.
          if (isConditionFailure(error) && now && !hasLadder(now) && attempt < COMMIT_ATTEMPTS) {
            current = now;
            continue;
          }
          await discardStaged(staging, staged, "backfill lost its race, or failed while saving");
          if (isConditionFailure(error) && !now) return outcome("skipped", "deleted while it was being done");
          if (isConditionFailure(error) && now && hasLadder(now))
            return outcome("skipped", "given its renditions by another run");
          return outcome("failed", `saving: ${messageOf(error)}`);
        }
        // The commit happened; only its answer was lost.
      }
      // The legacy thumbnail (named, or at its old fixed key) goes now that nothing names it.
      const kept = new Set(objectKeysOf(next));
      const old = [...objectKeysOf(before), objectKeys.thumbnail(imageId)].filter((key) => !kept.has(key));
      await discard([...new Set(old)], "backfill could not delete the old thumbnail");
      const sizes = renditions.map((rendition) => Math.max(rendition.width, rendition.height)).join(", ");
      return outcome("done", `${renditions.length} rendition(s): ${sizes} px`);
    }
  }

  const report: BackfillReport = { done: 0, skipped: 0, failed: 0, outcomes: [] };
  const finish = (result: BackfillOutcome) => {
    report[result.outcome] += 1;
    report.outcomes.push(result);
    onImage(result);
  };

  for await (const ids of imagePages) {
    // Each page's images, a decode slot's worth at a time.
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const imageId = ids[next++]!;
        finish(
          await backfillOne(imageId).catch((error: unknown) => ({
            imageId,
            outcome: "failed" as const,
            detail: messageOf(error),
          })),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.decodeConcurrency, Math.max(1, ids.length)) }, worker));
  }
  return report;
}
