import type { Db } from "../db/service.ts";
import { objectKeysOf, type ImageRecord } from "../image/records.ts";
import type { ObjectStore } from "../storage/object-store.ts";
import { entityOf, isTtlRemoval, oldItemOf, type ChangeRecord } from "./change-record.ts";

export interface PurgeDeps {
  db: Db;
  objects: ObjectStore;
}

/**
 * What the table's TTL leaves behind when it removes a trashed image item: the image's objects
 * in S3 and any of its tag items. Called by the stream consumer for each TTL removal of an image;
 * answers whether the record was one. Only a trashed image carries a TTL, but any image the TTL
 * removes is purged whole. Idempotent: a redelivered record finds the
 * objects and items gone, and S3's delete of a missing key succeeds.
 */
export async function purgeExpiredImage(record: ChangeRecord, { db, objects }: PurgeDeps): Promise<boolean> {
  const removed = oldItemOf(record);
  if (!isTtlRemoval(record) || entityOf(removed) !== "image" || !removed) return false;
  const image = db.entities.image.parse({ Item: removed }).data as unknown as ImageRecord;
  const tags = db.entities.imageTag;
  // A Query of the image's own partition: its tag items, whatever trashing left of them.
  const left = await tags.query
    .byImage({ imageId: image.imageId })
    .go({ pages: "all", attributes: ["imageId", "tag"] });
  for (const item of left.data) await tags.delete({ imageId: item.imageId, tag: item.tag }).go();
  await objects.deleteMany(objectKeysOf(image));
  return true;
}
