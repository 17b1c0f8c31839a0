import { marshall } from "@aws-sdk/util-dynamodb";
import { Entity } from "electrodb";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { imageTagSchema } from "../../src/db/image-tag.entity.ts";
import { imageSchema } from "../../src/db/image.entity.ts";
import { idempotencySchema } from "../../src/db/idempotency.entity.ts";
import { uploadSchema } from "../../src/db/upload.entity.ts";
import { TABLE } from "../../src/db/table.ts";
import type { ChangeRecord } from "../../src/events/change-record.ts";
import { imageEventOf, type ImageEvent } from "../../src/events/image-events.ts";
import { createStreamConsumer } from "../../src/events/stream-consumer.ts";
import { signEvent } from "../../src/events/webhook-signature.ts";
import { listingFields, type ImageRecord } from "../../src/image/records.ts";

/**
 * Which change of which item is which image event: the items are the entities' own (ElectroDB
 * builds them as it would store them), the records shaped as DynamoDB Streams delivers them.
 */
const table = "images-test";
const entities = {
  image: new Entity(imageSchema, { table }),
  imageTag: new Entity(imageTagSchema, { table }),
  upload: new Entity(uploadSchema, { table }),
  idempotency: new Entity(idempotencySchema, { table }),
};
const options = { bucketName: "bucket", source: "/images" };
const SECRET = `whsec_${Buffer.from("a key of thirty-two bytes, really").toString("base64")}`;

const image = {
  imageId: "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4",
  userId: "alice",
  uploadTime: "2026-11-24T19:30:00.000Z",
  title: "Sunset",
  tags: ["beach"],
  contentType: "image/jpeg",
  sizeBytes: 80_905,
  width: 1024,
  height: 768,
  sha256: "a".repeat(64),
  objectKey: "images/img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4.jpg",
  thumbnailKey: "thumbnails/img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4.webp",
  month: "2026-11",
  revision: 1,
  // The listing's write shard (the scale issue's); an entity without it drops it.
  shard: 0,
} as ImageRecord;
type Item = Record<string, unknown>;
const imageItem = (record: ImageRecord = image): Item => entities.image.put(record).params().Item;
const trashed = (item: Item, at = "2026-11-25T08:00:00.000Z"): Item => ({
  ...item,
  trashedAt: at,
  [TABLE.ttlAttribute]: Date.parse(at) / 1000 + 30 * 86_400,
});
const uploadItem = (state: "pending" | "failed"): Item =>
  entities.upload
    .put({
      imageId: image.imageId,
      userId: "alice",
      uploadTime: image.uploadTime,
      title: "Big one",
      tags: [],
      contentType: "image/png",
      declaredBytes: 9_000_000,
      objectKey: `uploads/${image.imageId}`,
      state,
      ...(state === "failed" ? { failureKind: "undecodable", failureReason: "not a PNG" } : {}),
      expiresAt: 1_800_000_000,
    })
    .params().Item;

const tagItem = (): Item =>
  entities.imageTag.put({ ...listingFields(image), shard: 0, tag: "beach" } as never).params().Item;

let sequence = 100;
function change(eventName: ChangeRecord["eventName"], before?: Item, after?: Item, ttl = false): ChangeRecord {
  sequence += 1;
  const keys = (before ?? after)!;
  return {
    eventID: `event-${sequence}`,
    eventName,
    dynamodb: {
      ApproximateCreationDateTime: 1_795_000_000 + sequence,
      Keys: marshall({ pk: keys.pk, sk: keys.sk }),
      ...(before ? { OldImage: marshall(before, { removeUndefinedValues: true }) } : {}),
      ...(after ? { NewImage: marshall(after, { removeUndefinedValues: true }) } : {}),
      SequenceNumber: String(sequence),
    },
    ...(ttl ? { userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" } } : {}),
  };
}

describe("image events from change records", () => {
  it("image.ready: an image item is inserted; the data is the image as the API gives it", () => {
    const record = change("INSERT", undefined, imageItem());
    const event = imageEventOf(record, options)!;
    expect(event).toMatchObject({
      specversion: "1.0",
      id: record.eventID,
      source: "/images",
      type: "image.ready",
      subject: image.imageId,
      time: new Date((1_795_000_000 + sequence) * 1000).toISOString(),
      sequence: record.dynamodb.SequenceNumber,
    });
    expect(event.data).toEqual({
      image_id: image.imageId,
      user_id: "alice",
      title: "Sunset",
      description: null,
      tags: ["beach"],
      upload_time: image.uploadTime,
      status: "ready",
      content_type: "image/jpeg",
      size_bytes: 80_905,
      width: 1024,
      height: 768,
      sha256: "a".repeat(64),
      s3_url: `s3://bucket/${image.objectKey}`,
      taken_at: null,
    });
    expect(event.validate()).toBe(true);
  });

  it("is the same event, id and time, when the record comes again", () => {
    const record = change("INSERT", undefined, imageItem());
    expect(JSON.stringify(imageEventOf(record, options))).toBe(JSON.stringify(imageEventOf(record, options)));
  });

  it("image.updated: a change of revision; none for a write that keeps it (the renditions' backfill)", () => {
    const edited = imageItem({ ...image, title: "Dusk", revision: 2 });
    const event = imageEventOf(change("MODIFY", imageItem(), edited), options)!;
    expect(event.type).toBe("image.updated");
    expect(event.data).toMatchObject({ title: "Dusk", status: "ready" });
    const backfilled = imageItem({
      ...image,
      renditions: [{ width: 320, height: 240, key: "r/320.webp", sizeBytes: 9 }],
    });
    expect(imageEventOf(change("MODIFY", imageItem(), backfilled), options)).toBeUndefined();
  });

  it("image.trashed and image.restored: trashedAt appears and goes, whatever the revision does", () => {
    const before = imageItem();
    const inTrash = trashed(imageItem({ ...image, revision: 2 }));
    const event = imageEventOf(change("MODIFY", before, inTrash), options)!;
    expect(event.type).toBe("image.trashed");
    expect(event.data).toMatchObject({
      status: "trashed",
      trashed_at: "2026-11-25T08:00:00.000Z",
      purge_at: "2026-12-25T08:00:00.000Z",
    });
    // An edit of an image in the trash is an update, not a second trashing.
    const editedInTrash = { ...inTrash, title: "x", revision: 3 };
    expect(imageEventOf(change("MODIFY", inTrash, editedInTrash), options)!.type).toBe("image.updated");
    const back = imageItem({ ...image, revision: 4 });
    const restored = imageEventOf(change("MODIFY", editedInTrash, back), options)!;
    expect(restored.type).toBe("image.restored");
    expect(restored.data).toMatchObject({ status: "ready" });
    expect(restored.data).not.toHaveProperty("trashed_at");
  });

  it("image.deleted: an image item is removed, by a request or by the TTL; the data is the image as it was", () => {
    const deleted = imageEventOf(change("REMOVE", imageItem(), undefined), options)!;
    expect(deleted.type).toBe("image.deleted");
    expect(deleted.data?.title).toBe("Sunset");
    const purged = imageEventOf(change("REMOVE", trashed(imageItem()), undefined, true), options)!;
    expect(purged).toMatchObject({ type: "image.deleted", data: { status: "trashed" } });
  });

  it("image.failed: an upload item becomes failed (inserted so, or changed to it), once", () => {
    const failed = imageEventOf(change("MODIFY", uploadItem("pending"), uploadItem("failed")), options)!;
    expect(failed.type).toBe("image.failed");
    expect(failed.data).toMatchObject({ status: "failed", failure_reason: "not a PNG", title: "Big one", width: null });
    expect(imageEventOf(change("INSERT", undefined, uploadItem("failed")), options)?.type).toBe("image.failed");
    expect(
      imageEventOf(change("MODIFY", uploadItem("failed"), { ...uploadItem("failed"), staleAt: 5 }), options),
    ).toBeUndefined();
    expect(imageEventOf(change("INSERT", undefined, uploadItem("pending")), options)).toBeUndefined();
    // Finishing removes the upload item as it inserts the image: the image's insert is the event.
    expect(imageEventOf(change("REMOVE", uploadItem("pending"), undefined), options)).toBeUndefined();
  });

  it("nothing for tag items, idempotency records and other bookkeeping", () => {
    const tag = tagItem();
    expect(imageEventOf(change("INSERT", undefined, tag), options)).toBeUndefined();
    expect(imageEventOf(change("REMOVE", tag, undefined), options)).toBeUndefined();
    const record = entities.idempotency
      .put({ key: "k", userId: "alice", requestHash: "h", state: "done", claimedAt: 1, expiresAt: 1 })
      .params().Item;
    expect(imageEventOf(change("INSERT", undefined, record), options)).toBeUndefined();
    expect(imageEventOf(change("INSERT", undefined, { pk: "x", sk: "y" }), options)).toBeUndefined();
  });
});

describe("webhook signature", () => {
  it("verifies with standardwebhooks' Webhook.verify over the exact body, and fails for any other", () => {
    const event = imageEventOf(change("INSERT", undefined, imageItem()), options)!;
    const signed = signEvent(event, SECRET);
    expect(signed.headers["webhook-id"]).toBe(event.id);
    expect(new Webhook(SECRET).verify(signed.body, signed.headers)).toEqual(JSON.parse(signed.body));
    expect(JSON.parse(signed.body)).toMatchObject({
      specversion: "1.0",
      type: "image.ready",
      data: { title: "Sunset" },
    });
    expect(() => new Webhook(SECRET).verify(signed.body.replace("Sunset", "Sunrise"), signed.headers)).toThrow();
    const otherKey = `whsec_${Buffer.from("another key of thirty-two bytes!").toString("base64")}`;
    expect(() => new Webhook(otherKey).verify(signed.body, signed.headers)).toThrow();
  });
});

describe("stream consumer", () => {
  const records = () => [
    change("INSERT", undefined, imageItem()),
    change("INSERT", undefined, tagItem()),
    change("MODIFY", imageItem(), imageItem({ ...image, revision: 2 })),
    change("MODIFY", imageItem({ ...image, revision: 2 }), trashed(imageItem({ ...image, revision: 3 }))),
    change("REMOVE", trashed(imageItem({ ...image, revision: 3 })), undefined, true),
  ];

  it("sends each record's event in order and purges what the TTL removed", async () => {
    const sent: ImageEvent[] = [];
    const purged: string[] = [];
    const consume = createStreamConsumer({
      ...options,
      publishBatchSize: 2,
      publish: async (events) => void sent.push(...events),
      purge: async (record) => void purged.push(record.dynamodb.SequenceNumber),
    });
    const batch = records();
    expect(await consume(batch)).toEqual({ batchItemFailures: [] });
    expect(sent.map((event) => event.type)).toEqual(["image.ready", "image.updated", "image.trashed", "image.deleted"]);
    expect(purged).toEqual([batch[4]!.dynamodb.SequenceNumber]);
  });

  it("names the first record it could not send, so the retry starts there with the same ids", async () => {
    const sent: ImageEvent[] = [];
    let failures = 1;
    const consume = createStreamConsumer({
      ...options,
      publishBatchSize: 1,
      publish: async (events) => {
        if (events[0]!.type === "image.trashed" && failures-- > 0) throw new Error("bus down");
        sent.push(...events);
      },
      purge: async () => undefined,
    });
    const batch = records();
    const first = await consume(batch);
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: batch[3]!.dynamodb.SequenceNumber }] });
    // Lambda retries from that record on.
    expect(await consume(batch.slice(3))).toEqual({ batchItemFailures: [] });
    expect(sent.map((event) => [event.type, event.id])).toEqual([
      ["image.ready", batch[0]!.eventID],
      ["image.updated", batch[2]!.eventID],
      ["image.trashed", batch[3]!.eventID],
      ["image.deleted", batch[4]!.eventID],
    ]);
  });

  it("names the TTL removal whose purge failed, after sending what came before", async () => {
    const sent: string[] = [];
    const consume = createStreamConsumer({
      ...options,
      publish: async (events) => void sent.push(...events.map((event) => event.type)),
      purge: async () => Promise.reject(new Error("S3 slow down")),
    });
    const batch = records();
    expect(await consume(batch)).toEqual({
      batchItemFailures: [{ itemIdentifier: batch[4]!.dynamodb.SequenceNumber }],
    });
    expect(sent).toEqual(["image.ready", "image.updated", "image.trashed"]);
  });
});
