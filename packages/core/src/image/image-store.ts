import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { AppError, toAppError } from "../errors.ts";
import { checkDigests } from "./check-duplicates.ts";
import { createImage, type CreateImageInput, type CreateOptions } from "./create-image.ts";
import { deleteImage } from "./delete-image.ts";
import { finishUpload, finishWaitingUploads } from "./finish-upload.ts";
import { getImage, getImageWithLinks } from "./get-image.ts";
import type { ImageInfo, ImagePage, ImagePatch, LargeUploadRequest, ListFilter } from "./image.schema.ts";
import { createListing } from "./listing.ts";
import { listTrash, type TrashFilter } from "./list-trash.ts";
import { toImageInfo } from "./records.ts";
import { restoreImage } from "./restore-image.ts";
import { startLargeUpload, type LargeUploadStarted, type StartOptions } from "./start-large-upload.ts";
import { createStoreContext, type ImageStoreDeps, type StoreContext } from "./store-context.ts";
import { trashImage } from "./trash-image.ts";
import { updateImage } from "./update-image.ts";

export type { CreateImageInput, CreateOptions } from "./create-image.ts";
export type { ImageStoreDeps } from "./store-context.ts";

/** Answers when both the table and the bucket do. */
async function health(ctx: StoreContext): Promise<void> {
  try {
    await Promise.all([
      ctx.db.entities.catalog.get({}).go(),
      ctx.clients.s3.send(new HeadBucketCommand({ Bucket: ctx.config.bucketName })),
    ]);
  } catch (error) {
    throw new AppError("unavailable", "storage is not answering", { retryAfterSeconds: 5, cause: error });
  }
}

/**
 * The image store: every way the service reads and changes images, each use case in a module of
 * its own over one context (store-context.ts). Bytes go to S3, metadata to DynamoDB; each change
 * is all or nothing to a reader.
 */
export function createImageStore(deps: ImageStoreDeps) {
  const ctx = createStoreContext(deps);
  const { config } = ctx;

  const listRecords = createListing({
    db: ctx.db,
    dynamo: ctx.clients.dynamo,
    cursorSecret: config.cursorSecret,
    now: ctx.now,
    shards: config.listingShards,
    catalog: () => ctx.months.read().catch((error) => Promise.reject(toAppError(error, "listing images"))),
  });

  /** A page of images, each with a short-lived link to its thumbnail for a grid to show. */
  async function list(filter: ListFilter): Promise<ImagePage> {
    const page = await listRecords(filter);
    const items = await Promise.all(
      page.items.map(async (record) => ({
        ...toImageInfo(record, config.bucketName),
        ...(await ctx.deliveryOf(record)),
      })),
    );
    return { items, nextCursor: page.nextCursor };
  }

  /** Starts an upload straight to S3 (the JSON mode); without options, always a new upload. */
  function startLarge(userId: string, request: LargeUploadRequest): Promise<LargeUploadStarted>;
  function startLarge(
    userId: string,
    request: LargeUploadRequest,
    options: StartOptions,
  ): Promise<LargeUploadStarted | ImageInfo>;
  async function startLarge(userId: string, request: LargeUploadRequest, options: StartOptions = {}) {
    return (await startLargeUpload(ctx, userId, request, options)).value;
  }

  return {
    /** Stores an image from its bytes (multipart). */
    create: async (input: CreateImageInput, options?: CreateOptions) => (await createImage(ctx, input, options)).image,
    /** As `create`, and says whether the image was already there (on_duplicate=return). */
    uploadDirect: (input: CreateImageInput, options?: CreateOptions) => createImage(ctx, input, options),
    startLargeUpload: startLarge,
    /** As `startLargeUpload`, and says whether the answer is the owner's image of the same file. */
    uploadLarge: (userId: string, request: LargeUploadRequest, options?: StartOptions) =>
      startLargeUpload(ctx, userId, request, options),
    finishUpload: (key: string) => finishUpload(ctx, key),
    finishWaitingUploads: () => finishWaitingUploads(ctx),
    get: (imageId: string, viewerId?: string) => getImage(ctx, imageId, viewerId),
    getWithLinks: (imageId: string, viewerId?: string) => getImageWithLinks(ctx, imageId, viewerId),
    list,
    listTrash: (filter: TrashFilter) => listTrash(ctx, filter),
    update: (imageId: string, callerId: string, patch: ImagePatch) => updateImage(ctx, imageId, callerId, patch),
    trash: (imageId: string, callerId: string) => trashImage(ctx, imageId, callerId),
    /** Restores a trashed image and answers it as GET does: its renditions and links are back too. */
    restore: async (imageId: string, callerId: string) => {
      await restoreImage(ctx, imageId, callerId);
      return getImageWithLinks(ctx, imageId, callerId);
    },
    remove: (imageId: string, callerId: string) => deleteImage(ctx, imageId, callerId),
    checkDigests: (userId: string, digests: string[]) => checkDigests(ctx, userId, digests),
    health: () => health(ctx),
  };
}

export type ImageStore = ReturnType<typeof createImageStore>;
export type { ImagePage };
