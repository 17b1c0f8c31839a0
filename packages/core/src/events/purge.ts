import type { Db } from "../db/service.ts";
import { objectKeysOf, type ImageRecord } from "../image/records.ts";
import type { ObjectStore } from "../storage/object-store.ts";
import { entityOf, isTtlRemoval, oldItemOf, type ChangeRecord, type StoredItem } from "./change-record.ts";

export interface PurgeDeps {
  db: Db;
  objects: ObjectStore;
}

/**
 * What the table's TTL leaves behind when it removes an item that names objects, completed by
 * the stream consumer for each TTL removal; answers whether the record was one of them:
 * - a trashed image: its objects in S3 and any of its tag items (only a trashed image carries a
 *   TTL, but any image the TTL removes is purged whole);
 * - a staged record (image/staged-objects.ts): the objects of an upload run that never
 *   committed, save any an image names;
 * - a deletion record nobody finished (image/delete-image.ts): the objects it still names;
 * - an upload nobody finished: the file posted for it (the bucket's lifecycle rule on the pending
 *   prefix would clear it too, a day later; the local emulator has no lifecycle rules).
 * Idempotent: a redelivered record finds the objects and items gone, and S3's delete of a
 * missing key succeeds.
 */
export async function purgeExpired(record: ChangeRecord, deps: PurgeDeps): Promise<boolean> {
  const removed = oldItemOf(record);
  if (!isTtlRemoval(record) || !removed) return false;
  switch (entityOf(removed)) {
    case "image":
      await purgeImage(removed, deps);
      return true;
    case "stagedObjects":
      await purgeStaged(removed, deps);
      return true;
    case "imageDeletion":
      await deps.objects.deleteMany(deps.db.entities.imageDeletion.parse({ Item: removed }).data?.objectKeys ?? []);
      return true;
    case "upload": {
      const upload = deps.db.entities.upload.parse({ Item: removed }).data;
      if (upload) await deps.objects.deleteMany([upload.objectKey]);
      return true;
    }
    default:
      return false;
  }
}

async function purgeImage(removed: StoredItem, { db, objects }: PurgeDeps): Promise<void> {
  const image = db.entities.image.parse({ Item: removed }).data as unknown as ImageRecord;
  const tags = db.entities.imageTag;
  // A Query of the image's own partition: its tag items, whatever trashing left of them.
  const left = await tags.query
    .byImage({ imageId: image.imageId })
    .go({ pages: "all", attributes: ["imageId", "tag"] });
  for (const item of left.data) await tags.delete({ imageId: item.imageId, tag: item.tag }).go();
  await objects.deleteMany(objectKeysOf(image));
}

async function purgeStaged(removed: StoredItem, { db, objects }: PurgeDeps): Promise<void> {
  const staged = db.entities.stagedObjects.parse({ Item: removed }).data;
  if (!staged) return;
  // The commit removes its run's record, so an image naming these keys cannot be; it is checked
  // all the same, since deleting an image's bytes could not be undone.
  const image = await db.entities.image.get({ imageId: staged.imageId }).go({ consistent: true });
  const named = new Set(image.data ? objectKeysOf(image.data as unknown as ImageRecord) : []);
  await objects.deleteMany(staged.objectKeys.filter((key) => !named.has(key)));
}
