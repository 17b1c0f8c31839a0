import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createImageStore } from "../../src/image/image-store.ts";
import { fixture, tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";
import { postToS3 } from "../support/post-upload.ts";

/**
 * Two changes to one image at once, each interleaving forced at the step where it once went
 * wrong (a hook in the SDK's middleware runs the other change right there). Afterwards the store
 * checker, reading every object's bytes, must find the store as its records describe it.
 */
let t: TestStore;
beforeAll(async () => {
  t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" }, { autoFinish: false });
});
afterAll(async () => t?.stop());

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Runs `other` once, just before the first command that `matches` is sent. */
function before(
  client: "s3" | "dynamo",
  matches: (command: string, input: Record<string, unknown>) => boolean,
  other: () => Promise<unknown>,
): { fired: () => boolean } {
  let state: "armed" | "running" | "done" = "armed";
  const name = `race-${Math.random().toString(36).slice(2)}`;
  const stack = t.clients[client].middlewareStack as {
    add: (m: unknown, o: unknown) => void;
    remove: (n: string) => boolean;
  };
  stack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        if (state === "armed" && matches(context.commandName, args.input)) {
          state = "running";
          await other();
          state = "done";
        }
        return next(args);
      },
    { step: "initialize", name },
  );
  return {
    fired: () => {
      stack.remove(name);
      return state === "done";
    },
  };
}

async function pendingUpload(owner: string, bytes: Uint8Array, contentType = "image/png") {
  const started = await t.store.startLargeUpload(owner, { title: "race", contentType, sizeBytes: 10_000_000 });
  expect((await postToS3(started.upload, bytes)).status).toBeLessThan(300);
  return { imageId: started.image.image_id, key: started.upload.fields.key!, upload: started.upload };
}

describe("deleting a pending upload while it is being finished", () => {
  it("finishing commits between the delete's read and its write: the delete removes the image, 204 is true", async () => {
    const { imageId, key } = await pendingUpload("ada", await tinyPng(1));
    const hook = before(
      "dynamo",
      (command, input) => command.startsWith("Delete") && JSON.stringify(input).includes(`imageId_${imageId}`),
      async () => expect(await t.store.finishUpload(key)).toBe("ready"),
    );
    await t.store.remove(imageId, "ada");
    expect(hook.fired()).toBe(true);
    await expect(t.store.get(imageId, "ada")).rejects.toMatchObject({ kind: "not_found" });
    expect((await t.store.list({ userId: "ada" })).items).toEqual([]);
    expect(await t.itemsOf(imageId)).toEqual([]);
    expect((await t.objectKeys()).filter((object) => object.includes(imageId))).toEqual([]);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });

  it("the delete lands while finishing works: finishing stores nothing", async () => {
    const { imageId, key } = await pendingUpload("bea", await tinyPng(2));
    const hook = before(
      "s3",
      (command, input) => command === "PutObjectCommand" && String(input.Key).startsWith("renditions/"),
      () => t.store.remove(imageId, "bea"),
    );
    expect(await t.store.finishUpload(key)).toBe("ignored");
    expect(hook.fired()).toBe(true);
    await expect(t.store.get(imageId, "bea")).rejects.toMatchObject({ kind: "not_found" });
    expect(await t.itemsOf(imageId)).toEqual([]);
    expect((await t.objectKeys()).filter((object) => object.includes(imageId))).toEqual([]);
    expect(await t.violations({ verifyDigests: true })).toEqual([]);
  });
});

describe("two files posted to one upload link a moment apart", () => {
  it("the record describes the bytes stored, whichever run commits first", async () => {
    for (const laterWins of [true, false]) {
      const first = await tinyPng(laterWins ? 3 : 4);
      const second = await tinyPng(laterWins ? 5 : 6);
      const { imageId, key, upload } = await pendingUpload("cy", first);
      let secondOutcome: string | undefined;
      // Run 1 has read the first file and is storing it; the second file lands and is finished.
      const hook = before(
        "s3",
        (command, input) => command === "PutObjectCommand" && String(input.Key).startsWith("renditions/"),
        async () => {
          expect((await postToS3(upload, second)).status).toBeLessThan(300);
          if (laterWins) secondOutcome = await t.store.finishUpload(key);
        },
      );
      const firstOutcome = await t.store.finishUpload(key);
      expect(hook.fired()).toBe(true);
      if (!laterWins) secondOutcome = await t.store.finishUpload(key);
      expect([firstOutcome, secondOutcome].sort()).toEqual(["ignored", "ready"]);

      const image = await t.store.getWithLinks(imageId, "cy");
      const stored = new Uint8Array(await (await fetch(image.download_url!)).arrayBuffer());
      expect(sha256(stored)).toBe(image.sha256);
      expect(stored.length).toBe(image.size_bytes);
      // Only the winner's files stay, and the posted file is gone.
      const left = (await t.objectKeys()).filter((object) => object.includes(imageId));
      expect(left).toHaveLength(2);
      expect(left.some((object) => object.startsWith("uploads/"))).toBe(false);
      expect(await t.violations({ verifyDigests: true })).toEqual([]);
    }
  });
});

describe("an idempotent retry of a large upload", () => {
  const request = { title: "retry", contentType: "image/png", sizeBytes: 10_000 };

  it("after its link died gets a fresh link that works, and after it finished gets the image", async () => {
    // The first start happened 11 minutes ago, presigned link included (the SDK signs with Date).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() - 11 * 60_000);
    const first = await t.store.startLargeUpload("dee", request, { idempotencyKey: "k-expired" }).finally(() => {
      vi.useRealTimers();
    });
    if (!("upload" in first)) throw new Error("expected a started upload");
    expect(Date.parse(first.upload.expires_at)).toBeLessThan(Date.now());

    const retry = await t.store.startLargeUpload("dee", request, { idempotencyKey: "k-expired" });
    if (!("upload" in retry)) throw new Error("expected a started upload");
    expect(retry.image.image_id).toBe(first.image.image_id);
    expect(Date.parse(retry.upload.expires_at)).toBeGreaterThan(Date.now() + 5 * 60_000);
    expect(retry.upload.fields.key).toBe(first.upload.fields.key);

    const png = await tinyPng(7);
    expect((await postToS3(retry.upload, png)).status).toBeLessThan(300);
    expect(await t.store.finishUpload(retry.upload.fields.key!)).toBe("ready");

    const afterReady = await t.store.startLargeUpload("dee", request, { idempotencyKey: "k-expired" });
    expect(afterReady).toMatchObject({ image_id: first.image.image_id, status: "ready" });
    expect("upload" in afterReady).toBe(false);
  });

  it("while its link is alive answers the first answer again, byte for byte", async () => {
    const first = await t.store.startLargeUpload("eve", request, { idempotencyKey: "k-alive" });
    const again = await t.store.startLargeUpload("eve", request, { idempotencyKey: "k-alive" });
    expect(again).toEqual(first);
  });

  it("of an upload that went stale revives it with a fresh link", async () => {
    const earlier = createImageStore({
      config: t.config,
      clients: t.clients,
      now: () => new Date(Date.now() - 2 * 3600_000),
    });
    const first = await earlier.startLargeUpload("fox", request, { idempotencyKey: "k-stale" });
    if (!("upload" in first)) throw new Error("expected a started upload");
    expect(await t.store.get(first.image.image_id, "fox")).toMatchObject({ status: "failed" });
    const retry = await t.store.startLargeUpload("fox", request, { idempotencyKey: "k-stale" });
    expect(retry).toMatchObject({ image: { image_id: first.image.image_id, status: "pending" } });
    expect(await t.store.get(first.image.image_id, "fox")).toMatchObject({ status: "pending" });
  });
});

describe("the per-user upload limit", () => {
  it("counts refused decodes and answers 429 before decoding", async () => {
    const limited = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "3" });
    try {
      // A JPEG whose header is whole and whose data is cut: it costs a decode to find out.
      const cut = fixture("FreshFlower.jpg").subarray(0, 40_000);
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) {
        outcomes.push(
          await limited.store.create({ userId: "gil", title: "cut", bytes: cut }).then(
            () => "stored",
            (error: { kind: string }) => error.kind,
          ),
        );
      }
      expect(outcomes).toEqual(["undecodable", "undecodable", "undecodable", "rate_limited"]);
      // Bytes that are no image at all are refused from their first bytes and do not count.
      await expect(
        limited.store.create({ userId: "hal", title: "text", bytes: new TextEncoder().encode("hello") }),
      ).rejects.toMatchObject({ kind: "unsupported_type" });
      const image = await limited.store.create({ userId: "hal", title: "ok", bytes: await tinyPng(8) });
      expect(image.status).toBe("ready");
    } finally {
      await limited.stop();
    }
  });
});
