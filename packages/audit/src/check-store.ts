import { createHash } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { ScanCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PENDING_UPLOAD_PREFIX, TABLE } from "@images/core";
import { checkShards } from "./images-without-shards.ts";

/**
 * The store's invariants, checked from the outside: every ready image has its object and its
 * thumbnail, every tag item has its image and agrees with it, every object has its item, and an
 * image's object is the file its record describes (its size; with `verifyDigests`, its sha256). A
 * pending upload's object counts as its item until the upload expires, and so do the objects
 * an unfinished delete still names and those a staged record names (an upload run in flight, or
 * stopped before its commit: the record's TTL purges them), which no other item may name. A
 * trashed image keeps its objects, has no tag items, is in no listing index (only its owner's
 * trash) and carries the TTL that purges it; every digest
 * item names only images there and not trashed, and every such image is named by its file's
 * digest. An audit reads everything, so it Scans: it is a tool for tests and operators, never
 * part of serving a request.
 */
export interface Violation {
  rule: string;
  detail: string;
}

export interface StoreReport {
  images: number;
  /** Images stored before the size ladder, which `npm run renditions:backfill` completes. */
  imagesWithoutRenditions: number;
  /** Images stored before the listings' write shards, which `npm run listings:backfill` moves. */
  imagesWithoutShards: number;
  tagItems: number;
  /** Images in their owner's trash (restorable until their TTL purges them). */
  trashedImages: number;
  pendingUploads: number;
  deletionsInProgress: number;
  /** Upload runs in flight, or stopped before their commit (their staged records' TTL purges what they wrote). */
  stagedRuns: number;
  objects: number;
  violations: Violation[];
}

type Item = Record<string, unknown>;

/** The listing fields a tag item copies from its image; they must agree. */
const COPIED_FIELDS = [
  "userId",
  "uploadTime",
  "title",
  "description",
  "tags",
  "contentType",
  "sizeBytes",
  "width",
  "height",
  "sha256",
  "objectKey",
  "thumbnailKey",
  "renditions",
  "placeholder",
  "takenAt",
];

/** The listing indexes an image is in unless trashed, and the trash index it is in when trashed. */
const LISTING_INDEXES = ["gsi1", "gsi2"] as const;
const TRASH_INDEX = "gsi3";
const hasKeysOf = (item: Item, index: keyof typeof TABLE.globalIndexes) =>
  item[TABLE.globalIndexes[index].partitionKey] !== undefined || item[TABLE.globalIndexes[index].sortKey] !== undefined;

async function scanAll(dynamo: DynamoDBDocumentClient, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...((page.Items ?? []) as Item[]));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** Every object's key and size. */
async function listAll(s3: S3Client, bucket: string): Promise<Map<string, number>> {
  const objects = new Map<string, number>();
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
    for (const object of page.Contents ?? []) objects.set(object.Key ?? "", object.Size ?? -1);
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return objects;
}

async function digestOf(s3: S3Client, bucket: string, key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return createHash("sha256")
    .update(await object.Body!.transformToByteArray())
    .digest("hex");
}

export async function checkStore(options: {
  dynamo: DynamoDBDocumentClient;
  s3: S3Client;
  tableName: string;
  bucketName: string;
  now?: Date;
  /** Also reads every image's object and compares its sha256 with the record's (costly). */
  verifyDigests?: boolean;
}): Promise<StoreReport> {
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  // Objects first: an object written after this listing cannot look like an orphan.
  const objects = await listAll(options.s3, options.bucketName);
  const keys = [...objects.keys()];
  const items = await scanAll(options.dynamo, options.tableName);
  const byEntity = (entity: string) => items.filter((item) => item.__edb_e__ === entity);
  const images = new Map(byEntity("image").map((item) => [String(item.imageId), item]));
  const tagItems = byEntity("imageTag");
  const uploads = byEntity("upload");
  const deletions = byEntity("imageDeletion");
  const stagedRuns = byEntity("stagedObjects");
  const digests = byEntity("digest");
  const violations: Violation[] = [];
  const violate = (rule: string, detail: string) => violations.push({ rule, detail });

  const owned = new Set<string>();
  let imagesWithoutRenditions = 0;
  let trashedImages = 0;
  for (const image of images.values()) {
    const trashed = typeof image.trashedAt === "string";
    if (trashed) {
      trashedImages += 1;
      if (LISTING_INDEXES.some((index) => hasKeysOf(image, index))) {
        violate("trashed_image_listed", `${image.imageId}: still has listing index keys`);
      }
      if (!hasKeysOf(image, TRASH_INDEX))
        violate("trashed_image_not_in_trash", `${image.imageId}: no trash index keys`);
      if (typeof image[TABLE.ttlAttribute] !== "number") {
        violate("trashed_image_without_ttl", `${image.imageId}: no ${TABLE.ttlAttribute}, so it would never be purged`);
      }
    } else {
      if (LISTING_INDEXES.some((index) => !hasKeysOf(image, index))) {
        violate("image_not_listed", `${image.imageId}: a listing index key is missing`);
      }
      if (hasKeysOf(image, TRASH_INDEX)) violate("image_in_trash_index", `${image.imageId}: not trashed`);
      if (image[TABLE.ttlAttribute] !== undefined) {
        violate("image_with_ttl", `${image.imageId}: not trashed, yet the TTL would remove it`);
      }
    }
    const renditions = (image.renditions as { key: string }[] | undefined) ?? [];
    const named: [string, unknown][] = [
      ["objectKey", image.objectKey],
      ["thumbnailKey", image.thumbnailKey],
      ...renditions.map((rendition, i): [string, unknown] => [`renditions[${i}]`, rendition.key]),
    ];
    const seen = new Set<string>();
    for (const [field, value] of named) {
      const key = String(value);
      // New images' thumbnail is their smallest rendition: one object, checked once.
      if (seen.has(key)) continue;
      seen.add(key);
      owned.add(key);
      if (!objects.has(key)) violate("image_without_object", `${image.imageId}: ${field} ${key} is missing`);
    }
    // Today's contract: every image has its ladder and placeholder; older ones have neither yet.
    if (image.renditions === undefined && image.placeholder === undefined) imagesWithoutRenditions += 1;
    else if (renditions.length === 0 || typeof image.placeholder !== "string") {
      violate(
        "image_without_renditions",
        `${image.imageId}: ${renditions.length} renditions, placeholder ${String(image.placeholder)}`,
      );
    }
    const stored = objects.get(String(image.objectKey));
    if (stored !== undefined && stored !== image.sizeBytes) {
      violate(
        "image_bytes_differ",
        `${image.imageId}: the object is ${stored} bytes, the record says ${image.sizeBytes}`,
      );
    } else if (stored !== undefined && options.verifyDigests) {
      const digest = await digestOf(options.s3, options.bucketName, String(image.objectKey));
      if (digest !== image.sha256) violate("image_bytes_differ", `${image.imageId}: the object's sha256 is ${digest}`);
    }
    const tags = trashed ? [] : ((image.tags as string[] | undefined) ?? []);
    for (const tag of tags) {
      const tagItem = tagItems.find((item) => item.imageId === image.imageId && item.tag === tag);
      if (!tagItem) {
        violate("tag_without_item", `${image.imageId}: tag ${tag} has no tag item`);
        continue;
      }
      const differing = COPIED_FIELDS.filter(
        (field) => JSON.stringify(tagItem[field]) !== JSON.stringify(image[field]),
      );
      if (differing.length > 0) violate("tag_item_stale", `${image.imageId}/${tag}: ${differing.join(", ")} differ`);
    }
  }
  for (const tagItem of tagItems) {
    const image = images.get(String(tagItem.imageId));
    if (!image) violate("tag_item_without_image", `${tagItem.imageId}/${tagItem.tag}: no image`);
    else if (typeof image.trashedAt === "string") {
      violate("trashed_image_has_tag_item", `${tagItem.imageId}/${tagItem.tag}: the image is trashed`);
    } else if (!((image.tags as string[]) ?? []).includes(String(tagItem.tag))) {
      violate("tag_item_not_in_image", `${tagItem.imageId}/${tagItem.tag}: the image has no such tag`);
    }
  }

  const named = new Set<string>();
  for (const digest of digests) {
    for (const imageId of (digest.imageIds as Set<string> | string[] | undefined) ?? []) {
      const image = images.get(imageId);
      named.add(`${imageId} ${String(digest.sha256)}`);
      if (!image || image.userId !== digest.userId || image.uploadedSha256 !== digest.sha256) {
        violate(
          "digest_without_image",
          `${digest.userId}/${digest.sha256}: names ${imageId}, which is not that file of theirs`,
        );
      } else if (typeof image.trashedAt === "string") {
        violate("digest_names_trashed_image", `${digest.userId}/${digest.sha256}: ${imageId} is trashed`);
      }
    }
  }
  for (const image of images.values()) {
    if (typeof image.uploadedSha256 !== "string" || typeof image.trashedAt === "string") continue;
    if (!named.has(`${image.imageId} ${image.uploadedSha256}`)) {
      violate("image_without_digest", `${image.imageId}: its file's digest does not name it`);
    }
  }

  let pendingUploads = 0;
  for (const upload of uploads) {
    const alive = Number(upload[TABLE.ttlAttribute]) >= nowSeconds;
    if (upload.state === "pending" && alive) {
      pendingUploads += 1;
      owned.add(String(upload.objectKey));
    }
    if (images.has(String(upload.imageId)) && upload.state === "pending") {
      violate("upload_and_image", `${upload.imageId}: both a pending upload and a ready image`);
    }
  }
  for (const deletion of deletions) {
    if (images.has(String(deletion.imageId))) violate("deleted_image_still_there", `${deletion.imageId}`);
    for (const key of (deletion.objectKeys as string[]) ?? []) owned.add(key);
  }

  // A staged key is its run's alone: the commit that gives it to an image removes the record, and
  // uploads and deletes name keys of their own (the TTL purge of a staged record must not take them).
  const ownedElsewhere = new Set(owned);
  for (const staged of stagedRuns) {
    for (const key of (staged.objectKeys as string[]) ?? []) {
      if (ownedElsewhere.has(key))
        violate("staged_object_owned", `${staged.imageId}/${staged.run}: ${key} is named elsewhere`);
      owned.add(key);
    }
  }

  for (const key of keys) {
    if (owned.has(key)) continue;
    const expiredUpload = key.startsWith(PENDING_UPLOAD_PREFIX);
    violate(expiredUpload ? "upload_object_without_pending_upload" : "object_without_item", key);
  }

  const shards = checkShards(images.values(), tagItems);
  violations.push(...shards.violations);

  return {
    images: images.size,
    imagesWithoutRenditions,
    imagesWithoutShards: shards.legacy,
    tagItems: tagItems.length,
    trashedImages,
    pendingUploads,
    deletionsInProgress: deletions.length,
    stagedRuns: stagedRuns.length,
    objects: keys.length,
    violations,
  };
}
