import { z } from "zod";
import { batchGetAll } from "../db/batch-get.ts";
import { AppError, toAppError } from "../errors.ts";
import { Sha256, UserId, type ImageInfo } from "./image.schema.ts";
import { readRecord } from "./read-image.ts";
import { toImageInfo } from "./records.ts";
import type { StoreContext } from "./store-context.ts";
import { parseOrThrow } from "./validate.ts";

/** What an upload does with a file its owner already has: store it again, refuse it, or answer the one there. */
export type OnDuplicate = "store" | "reject" | "return";

export interface KnownDigest {
  sha256: string;
  imageId: string;
}

/** The most digests one check takes (one BatchGet). */
export const MAX_CHECKED_DIGESTS = 100;

const Digests = z.array(Sha256).min(1).max(MAX_CHECKED_DIGESTS);

/** The oldest of the images uploaded as one file (ids are ULIDs: they sort by time). */
const oldest = (imageIds: Iterable<string> | undefined): string | undefined => [...(imageIds ?? [])].sort()[0];

/**
 * Which of these digests `userId` already has an image for (not trashed): one BatchGet of the
 * digest items per 100 digests (ElectroDB splits them), never a scan.
 */
export async function checkDigests(ctx: StoreContext, userId: string, digests: string[]): Promise<KnownDigest[]> {
  const owner = parseOrThrow(UserId, userId, "user_id");
  const wanted = [...new Set(parseOrThrow(Digests, digests, "sha256"))];
  const found = new Map<string, string>();
  const items = await batchGetAll(
    (keys) => ctx.db.entities.digest.get([...keys]).go({ consistent: true }),
    wanted.map((sha256) => ({ userId: owner, sha256 })),
    "checking the digests",
  );
  for (const item of items) {
    const imageId = oldest(item.imageIds);
    if (imageId) found.set(item.sha256, imageId);
  }
  return wanted.flatMap((sha256) => (found.has(sha256) ? [{ sha256, imageId: found.get(sha256)! }] : []));
}

/** The image `userId` already has for this file, or null. */
export async function findDuplicate(ctx: StoreContext, userId: string, sha256: string): Promise<string | null> {
  try {
    const { data } = await ctx.db.entities.digest.get({ userId, sha256 }).go({ consistent: true });
    return oldest(data?.imageIds) ?? null;
  } catch (error) {
    throw toAppError(error, "checking for the same file");
  }
}

/** A refused duplicate: the problem names the image there. */
export const duplicateRefused = (existingImageId: string) =>
  new AppError("conflict", `the same file is already stored as ${existingImageId}`, { existingImageId });

/**
 * What an upload answers when its owner already has the file: `reject` refuses it (409 naming
 * the image), `return` answers that image. Null when it must be stored after all (`store`, or
 * the image went in the meantime).
 */
export async function answerDuplicate(
  ctx: StoreContext,
  existingImageId: string,
  onDuplicate: OnDuplicate,
  userId: string,
): Promise<ImageInfo | null> {
  if (onDuplicate === "store") return null;
  if (onDuplicate === "reject") throw duplicateRefused(existingImageId);
  const record = await readRecord(ctx, existingImageId);
  return record && record.userId === userId && record.trashedAt === undefined
    ? toImageInfo(record, ctx.config.bucketName)
    : null;
}
