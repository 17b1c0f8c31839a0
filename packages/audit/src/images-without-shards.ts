import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { TABLE } from "@images/core";
import type { Violation } from "./check-store.ts";
import { imageIdsWhere } from "./image-scan.ts";

type Item = Record<string, unknown>;

/**
 * The ids of the images stored before the listings' write shards (no `shard`), a page at a time:
 * what `npm run listings:backfill` works through. A Scan, like the store checker's: an
 * operator's tool, never part of serving a request.
 */
export const imagesWithoutShards = (dynamo: DynamoDBDocumentClient, tableName: string) =>
  imageIdsWhere(dynamo, tableName, "attribute_not_exists(#shard)", { "#shard": "shard" });

const gsi1 = TABLE.globalIndexes.gsi1.partitionKey;
/** The month and tag partitions, as the entities key them (image.entity.ts, image-tag.entity.ts). */
const monthPartition = (month: unknown, shard?: unknown) =>
  `$images#month_${String(month)}${shard === undefined ? "" : `#shard_${String(shard)}`}`;
const tagPartition = (tag: unknown, shard: unknown) => `$images#tag_${String(tag)}#shard_${String(shard)}`;

/**
 * The shard rules of the store checker. An image of today's contract has a `shard`, its month
 * index key is that shard's partition, and each of its tag items carries the same shard and is
 * keyed in that shard of its tag. An image stored before the shards (no `shard`; listed, its
 * month key without a shard part) is counted, not named: `npm run listings:backfill` moves it.
 */
export function checkShards(images: Iterable<Item>, tagItems: Item[]): { legacy: number; violations: Violation[] } {
  const violations: Violation[] = [];
  const violate = (rule: string, detail: string) => violations.push({ rule, detail });
  const tagsOf = new Map<string, Item[]>();
  for (const item of tagItems) tagsOf.set(String(item.imageId), [...(tagsOf.get(String(item.imageId)) ?? []), item]);
  let legacy = 0;
  for (const image of images) {
    const listed = typeof image.trashedAt !== "string";
    const tags = tagsOf.get(String(image.imageId)) ?? [];
    if (image.shard === undefined) {
      const oldKey = !listed || image[gsi1] === monthPartition(image.month);
      const oldTags = tags.every((item) => item.shard === undefined);
      if (oldKey && oldTags) legacy += 1;
      else violate("image_without_shard", `${image.imageId}: keyed or tagged as sharded, yet it has no shard`);
      continue;
    }
    if (typeof image.shard !== "number" || !Number.isInteger(image.shard) || image.shard < 0) {
      violate("image_without_shard", `${image.imageId}: shard ${JSON.stringify(image.shard)} is not one`);
      continue;
    }
    if (listed && image[gsi1] !== monthPartition(image.month, image.shard)) {
      violate("image_shard_key_differs", `${image.imageId}: month key ${String(image[gsi1])}, shard ${image.shard}`);
    }
    for (const item of tags) {
      if (item.shard !== image.shard || item[gsi1] !== tagPartition(item.tag, image.shard)) {
        violate(
          "tag_item_shard_differs",
          `${image.imageId}/${String(item.tag)}: shard ${String(item.shard)} keyed ${String(item[gsi1])}, the image's is ${image.shard}`,
        );
      }
    }
  }
  return { legacy, violations };
}
