import { CACHE_CONTROL, objectKeys, type ObjectStore } from "../storage/object-store.ts";
import { RENDITION_TYPE, type Ladder } from "./processing.ts";
import type { RenditionRecord } from "./records.ts";
import { settleAll } from "./settle.ts";

/** Where each rung of an image's ladder goes; `version` as for its original (two finishing runs). */
export const renditionRecords = (imageId: string, ladder: Ladder, version?: string): RenditionRecord[] =>
  ladder.renditions.map((rendition) => ({
    width: rendition.width,
    height: rendition.height,
    key: objectKeys.rendition(imageId, Math.max(rendition.width, rendition.height), version),
    sizeBytes: rendition.body.byteLength,
  }));

/** Stores every rung at once (they are small), each cacheable by shared caches for a year. */
export async function storeRenditions(objects: ObjectStore, records: RenditionRecord[], ladder: Ladder) {
  await settleAll(
    records.map((record, i) =>
      objects.put(record.key, ladder.renditions[i]!.body, RENDITION_TYPE, CACHE_CONTROL.public),
    ),
  );
}
