import { createHash } from "node:crypto";

/**
 * The write shard of an image inside the all-images listing's month partitions and the tag
 * partitions: one partition takes at most 1,000 write units a second, so each of those listings
 * is spread over `shards` partitions. The hash of the id spreads images evenly whatever their
 * times; the image and all its tag items share one shard, fixed when the image is stored.
 */
export function shardOf(imageId: string, shards: number): number {
  if (shards <= 1) return 0;
  return createHash("sha256").update(imageId).digest().readUInt32BE(0) % shards;
}
