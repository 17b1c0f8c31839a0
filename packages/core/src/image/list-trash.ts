import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { indexKeyFields } from "../db/table.ts";
import { toAppError } from "../errors.ts";
import { decodeCursor, encodeCursor, filterDigest } from "./cursor.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, UserId, type ImagePage } from "./image.schema.ts";
import { toImageInfo, type ImageRecord } from "./records.ts";
import { epochSeconds, type StoreContext } from "./store-context.ts";
import { parseOrThrow } from "./validate.ts";

export const TrashFilter = z.object({
  userId: UserId,
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  cursor: z.string().max(2048).optional(),
});
export type TrashFilter = z.input<typeof TrashFilter>;

/**
 * The owner's trash, most recently trashed first: a Query of the sparse trash index (gsi3), which
 * holds an image item only while it carries `trashedAt`. A page reads one item more than it
 * returns, to tell whether another follows. An image past its purge time is left out: the TTL
 * removes it within days, not at once.
 */
export async function listTrash(ctx: StoreContext, input: TrashFilter): Promise<ImagePage> {
  const f = parseOrThrow(TrashFilter, input);
  const digest = filterDigest(["trash", f.userId]);
  const position = f.cursor ? decodeCursor(ctx.config.cursorSecret, digest, f.cursor) : undefined;
  const { image } = ctx.db.entities;
  const params = image.query.byTrash({ trashedBy: f.userId }).params({ order: "desc", limit: f.limit + 1 });
  const page = await ctx.clients.dynamo
    .send(new QueryCommand({ ...params, ExclusiveStartKey: position?.key } as never))
    .catch((error: unknown) => Promise.reject(toAppError(error, "listing the trash")));
  const found = (page.Items ?? []) as Record<string, unknown>[];
  const returned = found.slice(0, f.limit);
  const last = returned.at(-1);
  const keyFields = indexKeyFields("gsi3");
  const nextCursor =
    found.length > f.limit && last
      ? encodeCursor(ctx.config.cursorSecret, digest, {
          key: Object.fromEntries(keyFields.map((field) => [field, String(last[field])])),
        })
      : null;
  const now = epochSeconds(ctx);
  const records = (image.parse({ Items: returned }).data as ImageRecord[]).filter(
    (record) => record.expiresAt === undefined || record.expiresAt > now,
  );
  const items = await Promise.all(
    records.map(async (record) => ({
      ...toImageInfo(record, ctx.config.bucketName),
      ...(await ctx.deliveryOf(record)),
    })),
  );
  return { items, nextCursor };
}
