import { DeleteCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { indexKeyFields, TABLE } from "../../src/db/table.ts";
import { tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";

/**
 * The listing index of all images and of tags (gsi1) holds keys and the attributes a page is
 * merged by; a page reads the images themselves from the table. Checked on the embedded emulators,
 * which keep an index's projection as DynamoDB does.
 */
let t: TestStore;
beforeAll(async () => {
  t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000", LISTING_SHARDS: "3" });
});
afterAll(async () => t?.stop());

let seed = 300;
const stored = async (userId: string, tags: string[], title = "t") =>
  t.store.create({ userId, title, tags, bytes: await tinyPng(seed++) });
const ids = (page: { items: { image_id: string }[] }) => page.items.map((item) => item.image_id);
const itemOf = async (imageId: string, entity: string, tag?: string) =>
  (await t.itemsOf(imageId)).find((item) => item.__edb_e__ === entity && (tag === undefined || item.tag === tag))!;

/** Every gsi1 entry under one partition key, as a Query of the index answers it. */
async function entriesOf(partitionKey: string) {
  const out = await t.clients.dynamo.send(
    new QueryCommand({
      TableName: t.config.tableName,
      IndexName: "gsi1",
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": TABLE.globalIndexes.gsi1.partitionKey },
      ExpressionAttributeValues: { ":pk": partitionKey },
    }),
  );
  return (out.Items ?? []) as Record<string, unknown>[];
}

describe("the listing index (gsi1)", () => {
  it("holds an image's and a tag item's keys and merge attributes, nothing an edit changes", async () => {
    const image = await stored("ann", ["coast"], "before");
    const imageItem = await itemOf(image.image_id, "image");
    const tagItem = await itemOf(image.image_id, "imageTag", "coast");
    const [imageEntry] = (await entriesOf(String(imageItem.gsi1pk))).filter((e) => e.imageId === image.image_id);
    const [tagEntry] = (await entriesOf(String(tagItem.gsi1pk))).filter((e) => e.imageId === image.image_id);
    expect(Object.keys(imageEntry!).sort()).toEqual(
      [...indexKeyFields("gsi1"), "imageId", "month", "uploadTime"].sort(),
    );
    expect(Object.keys(tagEntry!).sort()).toEqual([...indexKeyFields("gsi1"), "imageId", "uploadTime"].sort());

    // An edit shows in both listings at once: the page reads the image, not the entry.
    await t.store.update(image.image_id, "ann", { title: "after", description: "a long description" });
    const [listed] = (await t.store.list({ tag: "coast" })).items;
    expect(listed).toMatchObject({ image_id: image.image_id, title: "after", description: "a long description" });
    expect((await t.store.list({})).items.find((i) => i.image_id === image.image_id)?.title).toBe("after");
  });

  it("leaves out what the index still shows a moment after the table changed", async () => {
    const [gone, trashed, untagged, kept] = [
      await stored("bea", ["dune"]),
      await stored("bea", ["dune"]),
      await stored("bea", ["dune", "sky"]),
      await stored("bea", ["dune"]),
    ];
    const { tableName } = t.config;
    // Each as the index would show it while DynamoDB carries the change to it: the image deleted
    // but its tag item still indexed; trashed but still indexed; untagged but its tag item still indexed.
    const goneItem = await itemOf(gone.image_id, "image");
    await t.clients.dynamo.send(new DeleteCommand({ TableName: tableName, Key: { pk: goneItem.pk, sk: goneItem.sk } }));
    const setOnImage = async (imageId: string, attribute: string, value: unknown) => {
      const item = await itemOf(imageId, "image");
      await t.clients.dynamo.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression: "SET #a = :v",
          ExpressionAttributeNames: { "#a": attribute },
          ExpressionAttributeValues: { ":v": value },
        }),
      );
    };
    await setOnImage(trashed.image_id, "trashedAt", new Date().toISOString());
    await setOnImage(untagged.image_id, "tags", ["sky"]);

    const dune = await t.store.list({ tag: "dune", limit: 10 });
    expect(ids(dune)).toEqual([kept.image_id]);
    expect(ids(await t.store.list({ tag: "sky" }))).toEqual([untagged.image_id]);
    const all = ids(await t.store.list({ limit: 100 }));
    expect(all).toContain(kept.image_id);
    expect(all).toContain(untagged.image_id);
    expect(all).not.toContain(trashed.image_id);
    expect(all).not.toContain(gone.image_id);

    // A page left shorter still continues after its last entry: pages of 2 over the four entries
    // (newest first: kept, untagged, trashed, gone).
    const first = await t.store.list({ tag: "dune", limit: 2 });
    expect(ids(first)).toEqual([kept.image_id]);
    expect(first.nextCursor).not.toBeNull();
    const second = await t.store.list({ tag: "dune", limit: 2, cursor: first.nextCursor! });
    expect(ids(second)).toEqual([]);
    expect(second.nextCursor).toBeNull();
  });
});
