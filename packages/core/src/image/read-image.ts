import { AppError, isConditionFailure, toAppError } from "../errors.ts";
import { ImageId, type ImageInfo } from "./image.schema.ts";
import { toImageInfo, uploadToImageInfo, type ImageRecord } from "./records.ts";
import type { StoreContext } from "./store-context.ts";
import { readUpload } from "./upload-records.ts";

/** A change that lost a race with another change to the same image is tried again this often. */
const CONCURRENT_CHANGE_ATTEMPTS = 3;

export const notFound = () => new AppError("not_found", "no such image");

/** The image item, read consistently; null for an id that is not one. */
export async function readRecord(ctx: StoreContext, imageId: string): Promise<ImageRecord | null> {
  if (!ImageId.safeParse(imageId).success) return null;
  try {
    // The hottest read: originalErr spares ElectroDB building an Error (a stack trace) on every
    // call in case one fails; toAppError reads the SDK's error as well as ElectroDB's wrapper.
    const { data } = await ctx.db.entities.image.get({ imageId }).go({ consistent: true, originalErr: true });
    return (data as ImageRecord | null) ?? null;
  } catch (error) {
    throw toAppError(error, "reading the image");
  }
}

/** How often, and how far apart, a commit whose answer was lost is looked for. */
const CONFIRM_ATTEMPTS = 4;
const CONFIRM_BACKOFF_MS = 50;

/**
 * After a commit that threw: the image item if the commit took effect all the same (its answer
 * was lost), null if it did not. A read that fails is tried again; if none succeeds this throws,
 * and the caller must keep its objects: an object without an item is found and removed later,
 * an item without its object is a broken image.
 */
export async function committedRecord(ctx: StoreContext, imageId: string): Promise<ImageRecord | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { data } = await ctx.db.entities.image.get({ imageId }).go({ consistent: true });
      return (data as ImageRecord | null) ?? null;
    } catch (error) {
      if (attempt >= CONFIRM_ATTEMPTS) throw toAppError(error, "confirming the image was saved");
      await new Promise((resolve) => setTimeout(resolve, CONFIRM_BACKOFF_MS * attempt));
    }
  }
}

/** A pending or failed upload, for its owner only; null for anyone else. */
export async function readOwnUpload(
  ctx: StoreContext,
  imageId: string,
  viewerId: string | undefined,
): Promise<ImageInfo | null> {
  if (!viewerId || !ImageId.safeParse(imageId).success) return null;
  const upload = await readUpload(ctx, imageId).catch((error) =>
    Promise.reject(toAppError(error, "reading the image")),
  );
  return upload && upload.userId === viewerId ? uploadToImageInfo(upload, ctx.config.bucketName) : null;
}

/**
 * The image if the caller owns it, trashed or not; anyone else is told it does not exist. A
 * pending upload of the caller's is a conflict: it cannot be changed until it is an image.
 */
export async function readOwned(ctx: StoreContext, imageId: string, callerId: string): Promise<ImageRecord> {
  const record = await readRecord(ctx, imageId);
  if (record && record.userId === callerId) return record;
  if (!record && (await readOwnUpload(ctx, imageId, callerId))) {
    throw new AppError("conflict", "the image is not ready yet; edit it once its upload has been checked");
  }
  throw notFound();
}

/**
 * The image, or else the caller's own upload. A trashed image is its owner's alone. Finishing
 * replaces the upload with the image in one transaction; when it lands between the two reads,
 * neither is seen, so the image is read once more before the answer is "no such image".
 */
export async function readImageOrUpload(
  ctx: StoreContext,
  imageId: string,
  viewerId?: string,
): Promise<ImageRecord | ImageInfo> {
  const visible = (record: ImageRecord | null) =>
    record && (record.trashedAt === undefined || record.userId === viewerId) ? record : null;
  const record = await readRecord(ctx, imageId);
  if (record) {
    if (visible(record)) return record;
    throw notFound();
  }
  const upload = await readOwnUpload(ctx, imageId, viewerId);
  if (upload) return upload;
  const committed = viewerId ? visible(await readRecord(ctx, imageId)) : null;
  if (committed) return committed;
  throw notFound();
}

/** Runs `attempt` again when it lost a race with another change to the same image. */
export async function withRetryOnRace<T>(what: string, attempt: (attemptNumber: number) => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt(i);
    } catch (error) {
      if (isConditionFailure(error) && i < CONCURRENT_CHANGE_ATTEMPTS) continue;
      if (isConditionFailure(error)) {
        throw new AppError("conflict", `${what}: the image is being changed by another request, try again`);
      }
      throw toAppError(error, what);
    }
  }
}
