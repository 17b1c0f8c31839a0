import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChangeRecord } from "../../src/events/change-record.ts";
import { createImageEventConsumer } from "../../src/events/consumer.ts";
import { STAGED_RECORD_SECONDS } from "../../src/image/staged-objects.ts";
import { tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";
import { postToS3 } from "../support/post-upload.ts";

/**
 * A commit whose answer is lost (it took effect, the caller saw a timeout), and the reads that
 * should confirm it failing too: the store must never discard the bytes of an image it saved.
 */
let t: TestStore;
beforeAll(async () => {
  t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" }, { autoFinish: false });
});
afterAll(async () => t?.stop());

const lostAnswer = () => Object.assign(new Error("injected: the answer was lost"), { name: "TimeoutError" });
const throttled = () =>
  Object.assign(new Error("injected throttling"), { name: "ThrottlingException", $metadata: { httpStatusCode: 400 } });

type Next = (args: unknown) => Promise<unknown>;
type Step = (next: Next, commandName: string, args: unknown) => Promise<unknown>;

/** Runs `action` with `step` in front of every call `client` makes, and takes it away after. */
async function withMiddleware<T>(client: { middlewareStack: unknown }, step: Step, action: () => Promise<T>) {
  const name = `fault-${Math.random().toString(36).slice(2)}`;
  const stack = client.middlewareStack as { add(m: unknown, o: unknown): void; remove(n: string): boolean };
  stack.add(
    (next: Next, context: { commandName: string }) => (args: unknown) => step(next, context.commandName, args),
    { step: "initialize", name },
  );
  try {
    return await action();
  } finally {
    stack.remove(name);
  }
}

/**
 * While `action` runs: the first TransactWriteItems fails (`after` it took effect, or `before`),
 * and the next `failingReads` GetItems of the image are throttled.
 */
async function withFaults<T>(timing: "after" | "before", failingReads: number, action: () => Promise<T>) {
  let transactions = 0;
  let reads = 0;
  return withMiddleware(
    t.clients.dynamo,
    async (next, commandName, args) => {
      if (commandName === "TransactWriteItemsCommand" && transactions++ === 0) {
        if (timing === "before") throw throttled();
        await next(args);
        throw lostAnswer();
      }
      if (commandName === "GetItemCommand" && transactions > 0 && reads < failingReads) {
        reads++;
        throw throttled();
      }
      return next(args);
    },
    action,
  );
}

const objectsOf = async (imageId: string) => (await t.objectKeys()).filter((key) => key.includes(imageId));

/** A large upload started by "max" with a PNG made from `seed`, its file posted and not finished yet. */
async function postedUpload(seed: number, title: string) {
  const bytes = await tinyPng(seed);
  const started = await t.store.startLargeUpload("max", { title, contentType: "image/png", sizeBytes: bytes.length });
  expect((await postToS3(started.upload, bytes)).status).toBe(204);
  return { imageId: started.image.image_id, key: started.upload.fields.key! };
}

describe("a direct upload whose commit answer is lost", () => {
  it("answers the image it saved when a confirming read succeeds after a failed one", async () => {
    const image = await withFaults("after", 1, async () =>
      t.store.create({ userId: "lou", title: "lost", tags: ["a"], bytes: await tinyPng(901) }),
    );
    expect(image.status).toBe("ready");
    expect((await t.store.getWithLinks(image.image_id)).renditions.length).toBeGreaterThan(0);
    expect(await objectsOf(image.image_id)).not.toEqual([]);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("keeps the bytes when no confirming read succeeds (503), so the image saved is whole", async () => {
    const bytes = await tinyPng(902);
    await expect(
      withFaults("after", 100, () => t.store.create({ userId: "lou", title: "unknown", bytes })),
    ).rejects.toMatchObject({ kind: "unavailable" });
    const [saved] = (await t.store.list({ userId: "lou" })).items.filter((item) => item.title === "unknown");
    expect(saved).toBeDefined();
    expect(await objectsOf(saved!.image_id)).not.toEqual([]);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("removes the bytes when the commit did not happen", async () => {
    const before = await t.objectKeys();
    await expect(
      withFaults("before", 1, async () =>
        t.store.create({ userId: "lou", title: "refused", bytes: await tinyPng(903) }),
      ),
    ).rejects.toMatchObject({ kind: "unavailable" });
    expect(await t.objectKeys()).toEqual(before);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });
});

/** While `action` runs, the first `count` DeleteObjects calls fail. */
async function withFailingDeletes<T>(count: number, action: () => Promise<T>) {
  let failed = 0;
  return withMiddleware(
    t.clients.s3,
    async (next, commandName, args) => {
      if (commandName === "DeleteObjectsCommand" && failed < count) {
        failed++;
        throw Object.assign(new Error("injected: S3 is slow"), {
          name: "SlowDown",
          $metadata: { httpStatusCode: 503 },
        });
      }
      return next(args);
    },
    action,
  );
}

describe("the clean-up after a failed commit", () => {
  it("removes the bytes even when its first delete fails too (two faults in one request)", async () => {
    const before = await t.objectKeys();
    await expect(
      withFailingDeletes(1, () =>
        withFaults("before", 0, async () =>
          t.store.create({ userId: "lou", title: "twice", bytes: await tinyPng(906) }),
        ),
      ),
    ).rejects.toMatchObject({ kind: "unavailable" });
    expect(await t.objectKeys()).toEqual(before);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("finishing: removes its own files even when their first delete fails too, and the retried event makes it ready", async () => {
    const { imageId, key } = await postedUpload(907, "twice");
    await expect(
      withFailingDeletes(1, () => withFaults("before", 0, () => t.store.finishUpload(key))),
    ).rejects.toMatchObject({ kind: "unavailable" });
    // The failed run's files are gone: only the posted file waits for the retried event.
    expect(await objectsOf(imageId)).toEqual([key]);
    expect(await t.store.finishUpload(key)).toBe("ready");
    expect((await t.store.get(imageId)).status).toBe("ready");
    // What is left is the image's own: the store checker finds no object without its item.
    expect(await objectsOf(imageId)).not.toContain(key);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });
});

describe("finishing a large upload whose commit answer is lost", () => {
  it("turns it ready with its own files when a confirming read fails once", async () => {
    const { imageId, key } = await postedUpload(904, "big");
    expect(await withFaults("after", 1, () => t.store.finishUpload(key))).toBe("ready");
    const image = await t.store.getWithLinks(imageId);
    expect(image.status).toBe("ready");
    expect((await fetch(image.download_url!)).status).toBe(200);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("keeps its files and asks for the event again when no confirming read succeeds", async () => {
    const { imageId, key } = await postedUpload(905, "big");
    await expect(withFaults("after", 100, () => t.store.finishUpload(key))).rejects.toMatchObject({
      kind: "unavailable",
    });
    // The retried event finds the upload gone (the commit took it): it only removes the posted file.
    expect(await t.store.finishUpload(key)).toBe("ignored");
    expect((await objectsOf(imageId)).some((key) => key.startsWith("uploads/"))).toBe(false);
    expect((await t.store.get(imageId)).status).toBe("ready");
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });
});

/**
 * A run that stops between its bytes and its commit and whose clean-up never runs, as a crash
 * or a timeout does, or a commit nobody can confirm; and a delete nobody retried. A record names
 * what each left (the run's staged record, the delete's deletion record); when the TTL removes
 * that record, the stream consumer's purge deletes those objects.
 */
describe("what a stopped run leaves, purged when its record expires", () => {
  const stagedOf = async (imageId: string) =>
    (await t.itemsOf(imageId)).filter((item) => item.__edb_e__ === "stagedObjects");

  /** The TTL a day and a minute from now (or `seconds`), and the stream consumer on what it removed. */
  async function aDayLater(seconds = STAGED_RECORD_SECONDS + 60) {
    const local = t.localAws!;
    const from = local.changes.records().length;
    await local.sweepExpired(Date.now() / 1000 + seconds);
    const consume = createImageEventConsumer({ config: t.config, clients: t.clients, publish: async () => {} });
    const removed = local.changes.records().slice(from) as unknown as ChangeRecord[];
    expect(await consume(removed)).toEqual({ batchItemFailures: [] });
  }

  it("a direct upload: its objects wait under the staged record, and the purge deletes them", async () => {
    const before = await t.objectKeys();
    await expect(
      withFaults("before", 100, async () =>
        t.store.create({ userId: "lou", title: "stopped", bytes: await tinyPng(908) }),
      ),
    ).rejects.toMatchObject({ kind: "unavailable" });
    const left = (await t.objectKeys()).filter((key) => !before.includes(key));
    expect(left.length).toBeGreaterThan(1);
    const imageId = /img_[0-9A-Z]{26}/.exec(left[0]!)![0];
    const [staged, ...more] = await stagedOf(imageId);
    expect(more).toEqual([]);
    expect([...(staged!.objectKeys as string[])].sort()).toEqual(left.sort());
    // In flight, not orphaned: the checker counts them as the staged run's.
    expect(await t.violations({ verifyDigests: true })).toEqual([]);

    await aDayLater();
    expect(await t.objectKeys()).toEqual(before);
    expect(await t.itemsOf(imageId)).toEqual([]);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("finishing: the stopped run's files are purged, the image a retried run committed keeps its own", async () => {
    const { imageId, key } = await postedUpload(909, "stopped");
    await expect(withFaults("before", 100, () => t.store.finishUpload(key))).rejects.toMatchObject({
      kind: "unavailable",
    });
    const stopped = (await objectsOf(imageId)).filter((name) => name !== key);
    expect(stopped.length).toBeGreaterThan(1);
    expect(await t.store.finishUpload(key)).toBe("ready");
    const [staged, ...more] = await stagedOf(imageId);
    expect(more).toEqual([]);
    expect([...(staged!.objectKeys as string[])].sort()).toEqual(stopped.sort());
    const kept = (await objectsOf(imageId)).filter((name) => !stopped.includes(name));
    expect(await t.violations({ verifyDigests: true })).toEqual([]);

    await aDayLater();
    expect((await objectsOf(imageId)).sort()).toEqual(kept.sort());
    expect(await stagedOf(imageId)).toEqual([]);
    const image = await t.store.getWithLinks(imageId);
    expect((await fetch(image.download_url!)).status).toBe(200);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("a delete nobody finished: when the deletion record expires, the purge deletes what it names", async () => {
    const before = await t.objectKeys();
    const image = await t.store.create({ userId: "lou", title: "half deleted", bytes: await tinyPng(910) });
    await expect(withFailingDeletes(1, () => t.store.remove(image.image_id, "lou"))).rejects.toMatchObject({
      kind: "unavailable",
    });
    expect((await objectsOf(image.image_id)).length).toBeGreaterThan(1);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);

    await aDayLater(8 * 86_400);
    expect(await t.objectKeys()).toEqual(before);
    expect(await t.itemsOf(image.image_id)).toEqual([]);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("an upload nobody finished: when it expires, the purge deletes the file posted for it", async () => {
    const { imageId, key } = await postedUpload(911, "abandoned");
    expect(await objectsOf(imageId)).toEqual([key]);

    await aDayLater(2 * 86_400);
    expect(await objectsOf(imageId)).toEqual([]);
    expect(await t.itemsOf(imageId)).toEqual([]);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });
});
