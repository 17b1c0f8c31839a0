import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, pngDeclaring, tinyPng } from "../../core/test/support/fixtures.ts";
import type { PresignedUpload } from "@images/core";
import { eventually, postToS3 } from "../../core/test/support/post-upload.ts";
import { problemOf, sha256, startTestApi, type TestApi } from "./support/test-api.ts";

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => t?.stop());

type Image = {
  image_id: string;
  user_id: string;
  tags: string[];
  sha256: string;
  upload_time: string;
  title: string;
  description: string | null;
};
const jpeg = fixture("FreshFlowerGPS.jpg");

async function uploaded(
  user: string,
  fields: { title?: string; tags?: string | string[]; description?: string } = {},
  bytes?: Uint8Array,
) {
  const response = await t.upload(user, bytes ?? (await tinyPng(Math.floor(Math.random() * 200))), {
    title: "t",
    ...fields,
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Image;
}

/** Runs `request` and asserts it answered `status` as problem JSON and stored nothing. */
async function refused(status: number, request: () => Promise<Response>) {
  const before = await t.snapshot();
  const problem = await problemOf(await request(), status);
  expect(await t.snapshot()).toEqual(before);
  return problem;
}

describe("POST /images/upload (multipart)", () => {
  it("stores a real JPEG as a ready image owned by the caller, without EXIF", async () => {
    const response = await t.upload("alice", jpeg, {
      title: "Flower",
      description: "Spring",
      tags: ["Garden", "spring,macro"],
    });
    expect(response.status).toBe(201);
    const image = (await response.json()) as Image & Record<string, unknown>;
    expect(image).toMatchObject({
      user_id: "alice",
      title: "Flower",
      description: "Spring",
      tags: ["garden", "spring", "macro"],
      status: "ready",
      content_type: "image/jpeg",
      width: 1600,
      height: 1203,
    });
    expect(image.upload_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(image.image_id).toMatch(/^img_[0-9A-Z]{26}$/);

    const got = await t.call("GET", `/images/${image.image_id}`, { user: "bob" });
    expect(got.status).toBe(200);
    const withLinks = (await got.json()) as Image & {
      download_url: string;
      thumbnail_url: string;
      download_expires_at: string;
    };
    expect(withLinks).toMatchObject(image);
    const download = await fetch(withLinks.download_url);
    expect(download.headers.get("content-type")).toBe("image/jpeg");
    const bytes = new Uint8Array(await download.arrayBuffer());
    expect(sha256(bytes)).toBe(image.sha256);
    expect((await sharp(bytes).metadata()).exif).toBeUndefined();
    expect(Date.parse(withLinks.download_expires_at) - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    expect((await t.app.request(withLinks.thumbnail_url)).headers.get("content-type")).toBe("image/webp");
  });

  it("ignores a user_id sent by the client: the token decides the owner", async () => {
    const form = new FormData();
    form.append("file", new Blob([await tinyPng(5)]));
    form.append("title", "mine");
    form.append("user_id", "mallory");
    const response = await t.call("POST", "/images/upload", { user: "alice", body: form });
    expect(((await response.json()) as Image).user_id).toBe("alice");
  });

  it.each([
    ["no title", { tags: "a" }, "title"],
    ["an empty title", { title: "   " }, "title"],
    ["a title over 200 characters", { title: "x".repeat(201) }, "title"],
    ["a bad tag", { title: "t", tags: ["ok", "no spaces"] }, "tags.1"],
    ["21 tags", { title: "t", tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, "tags"],
    ["a description over 2,000 characters", { title: "t", description: "d".repeat(2001) }, "description"],
  ])("answers 400 for %s, naming the field", async (_, fields, path) => {
    const problem = await refused(400, async () => t.upload("alice", await tinyPng(), fields));
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(problem.detail).toContain(path);
  });

  it("answers 400 when the file is missing", async () => {
    const form = new FormData();
    form.append("title", "no file");
    const problem = await refused(400, () => t.call("POST", "/images/upload", { body: form }));
    expect(problem.errors?.[0]?.path).toBe("file");
  });

  it("answers 401 without a token, and stores nothing", async () => {
    await refused(401, () => t.upload(null, jpeg, { title: "t" }));
  });

  it("answers 413 for a body over the limit without reading it all, and for a file just over 4 MiB", async () => {
    await refused(413, () => t.upload("alice", fixture("Elephants_3840x2160.jpg"), { title: "big" }));
    const justOver = new Uint8Array(4 * 1024 * 1024 + 1);
    justOver.set(jpeg);
    await refused(413, () => t.upload("alice", justOver, { title: "big" }));
  });

  it("answers 415 for an SVG, HTML, and a body that is neither multipart nor JSON", async () => {
    await refused(415, () =>
      t.upload("alice", fixture("oceans.svg"), { title: "svg", fileType: "image/svg+xml", fileName: "x.jpg" }),
    );
    await refused(415, () =>
      t.upload("alice", Buffer.from("<html><script>alert(1)</script>"), { title: "h", fileType: "image/png" }),
    );
    await refused(415, () =>
      t.call("POST", "/images/upload", { body: "hello", headers: { "content-type": "text/plain" } }),
    );
  });

  it("answers 422 for a truncated JPEG and for a PNG that declares 20000x20000 pixels", async () => {
    await refused(422, () => t.upload("alice", jpeg.subarray(0, 30_000), { title: "cut" }));
    const problem = await refused(422, async () =>
      t.upload("alice", await pngDeclaring(20000, 20000), { title: "bomb" }),
    );
    expect(problem.detail).toContain("pixels");
  });

  it("answers 400 for malformed JSON", async () => {
    await refused(400, () =>
      t.call("POST", "/images/upload", { body: "{not json", headers: { "content-type": "application/json" } }),
    );
  });
});

describe("POST /images/upload (JSON: straight to S3)", () => {
  it("answers a pending image and a presigned POST; the posted file turns it ready", async () => {
    const elephants = fixture("Elephants_3840x2160.jpg");
    const response = await t.call("POST", "/images/upload", {
      user: "zoe",
      json: { title: "Elephants", tags: ["safari"], content_type: "image/jpeg", size_bytes: elephants.length },
    });
    expect(response.status).toBe(201);
    const started = (await response.json()) as { image: Image & { status: string }; upload: PresignedUpload };
    expect(started.image.status).toBe("pending");
    expect(started.upload).toMatchObject({ method: "POST", max_bytes: elephants.length });

    const pending = await t.call("GET", `/images/${started.image.image_id}`, { user: "zoe" });
    expect(await pending.json()).toMatchObject({ status: "pending", download_url: null });
    await problemOf(await t.call("GET", `/images/${started.image.image_id}`, { user: "yann" }), 404);
    await problemOf(
      await t.call("PATCH", `/images/${started.image.image_id}`, { user: "zoe", json: { title: "x" } }),
      409,
    );

    expect((await postToS3(started.upload, elephants)).status).toBeLessThan(300);
    const ready = await eventually(async () => {
      const body = (await (await t.call("GET", `/images/${started.image.image_id}`, { user: "yann" })).json()) as {
        status?: string;
        sha256: string;
        download_url: string;
      };
      return body.status === "ready" ? body : undefined;
    });
    const bytes = new Uint8Array(await (await fetch(ready.download_url)).arrayBuffer());
    expect(sha256(bytes)).toBe(ready.sha256);
  });

  it.each([
    [415, { title: "t", content_type: "image/svg+xml", size_bytes: 10 }],
    [413, { title: "t", content_type: "image/jpeg", size_bytes: 50 * 1024 * 1024 + 1 }],
    [400, { title: "t", content_type: "image/jpeg" }],
    [400, { title: "t", content_type: "image/jpeg", size_bytes: 10, owner: "mallory" }],
    [400, { title: "", content_type: "image/jpeg", size_bytes: 10 }],
  ])("answers %i for %j and stores nothing", async (status, json) => {
    await refused(status, () => t.call("POST", "/images/upload", { json }));
  });
});

describe("Idempotency-Key", () => {
  it("returns the first answer to a retry and stores one image", async () => {
    const png = await tinyPng(77);
    const first = await t.upload("carol", png, { title: "once" }, { "idempotency-key": "k-1" });
    const again = await t.upload("carol", png, { title: "once" }, { "idempotency-key": "k-1" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(await first.json());
    const listed = (await (await t.call("GET", "/images?user_id=carol", { user: "carol" })).json()) as {
      items: Image[];
    };
    expect(listed.items).toHaveLength(1);
  });

  it("answers 409 when the key is reused for a different request, and keys are per user", async () => {
    const png = await tinyPng(78);
    expect((await t.upload("dora", png, { title: "a" }, { "idempotency-key": "k-2" })).status).toBe(201);
    await refused(409, () => t.upload("dora", png, { title: "b" }, { "idempotency-key": "k-2" }));
    const other = await t.upload("erin", png, { title: "b" }, { "idempotency-key": "k-2" });
    expect(other.status).toBe(201);
  });

  it("frees the key when the upload is refused, so the client can retry with it", async () => {
    await refused(415, () => t.upload("fred", fixture("oceans.svg"), { title: "a" }, { "idempotency-key": "k-3" }));
    expect((await t.upload("fred", await tinyPng(1), { title: "a" }, { "idempotency-key": "k-3" })).status).toBe(201);
  });

  it("answers 400 for a key that is not visible ASCII", async () => {
    await refused(400, async () =>
      t.upload("fred", await tinyPng(1), { title: "a" }, { "idempotency-key": "x".repeat(256) }),
    );
  });
});

describe("GET /images", () => {
  let images: Image[];
  beforeAll(async () => {
    images = [];
    for (const [user, tags] of [
      ["gus", ["sea"]],
      ["gus", ["sea", "sky"]],
      ["hal", ["sky"]],
      ["hal", ["sea"]],
      ["gus", []],
    ] as const) {
      images.push(await uploaded(user, { tags: [...tags] }));
    }
  });
  const ids = async (query: string) => {
    const response = await t.call("GET", `/images?${query}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: Image[] }).items.map((i) => i.image_id);
  };
  const newest = (list: Image[]) => list.map((i) => i.image_id).reverse();

  it("filters by owner, tag, and both, newest first", async () => {
    expect(await ids("user_id=gus")).toEqual(newest(images.filter((i) => i.user_id === "gus")));
    expect(await ids("user_id=gus&tag=sea")).toEqual(
      newest(images.filter((i) => i.user_id === "gus" && i.tags.includes("sea"))),
    );
    expect((await ids("tag=sky")).filter((id) => images.some((i) => i.image_id === id))).toEqual(
      newest(images.filter((i) => i.tags.includes("sky"))),
    );
  });

  it("filters by a date range, inclusive at both ends", async () => {
    const [a, b, c] = images;
    const range = `from=${encodeURIComponent(b!.upload_time)}&to=${encodeURIComponent(c!.upload_time)}&user_id=gus`;
    const got = await ids(range);
    expect(got).toContain(b!.image_id);
    expect(got).not.toContain(a!.image_id);
    const today = new Date().toISOString().slice(0, 10);
    expect(await ids(`user_id=hal&from=${today}&to=${today}`)).toHaveLength(2);
  });

  it("pages with an opaque cursor until next_cursor is null", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await t.call(
        "GET",
        `/images?user_id=gus&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      const page = (await response.json()) as { items: Image[]; next_cursor: string | null };
      seen.push(...page.items.map((i) => i.image_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(newest(images.filter((i) => i.user_id === "gus")));
  });

  it.each([
    ["limit=0"],
    ["limit=101"],
    ["limit=abc"],
    ["from=yesterday"],
    ["from=2026-02-30"],
    ["from=2026-05-02&to=2026-05-01"],
    ["cursor=not-a-cursor"],
    ["tag=has%20space"],
    ["user_id=%23evil"],
  ])("answers 400 for %s", async (query) => {
    await refused(400, () => t.call("GET", `/images?${query}`));
  });

  it("answers 400 for a cursor made for another filter", async () => {
    const page = (await (await t.call("GET", "/images?user_id=gus&limit=1")).json()) as { next_cursor: string };
    await refused(400, () =>
      t.call("GET", `/images?user_id=hal&limit=1&cursor=${encodeURIComponent(page.next_cursor)}`),
    );
  });
});

describe("GET, PATCH and DELETE /images/{image_id}", () => {
  it("lets the owner edit, and hides the image from everyone else's changes", async () => {
    const image = await uploaded("ivan", { title: "Old", tags: ["one"], description: "desc" });
    await refused(404, () => t.call("PATCH", `/images/${image.image_id}`, { user: "judy", json: { title: "hacked" } }));
    await refused(404, () => t.call("DELETE", `/images/${image.image_id}`, { user: "judy" }));

    const response = await t.call("PATCH", `/images/${image.image_id}`, {
      user: "ivan",
      json: { title: "New", description: null, tags: ["Two", "three"] },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ title: "New", description: null, tags: ["two", "three"] });
    expect(await (await t.call("GET", `/images/${image.image_id}`)).json()).toMatchObject({
      title: "New",
      tags: ["two", "three"],
    });
    expect(await (await t.call("GET", "/images?tag=one")).json()).toMatchObject({ items: [] });
  });

  it.each([
    ["an unknown field", { title: "x", owner: "judy" }],
    ["nothing to change", {}],
    ["a bad tag", { tags: ["bad tag"] }],
    ["a title of the wrong type", { title: 5 }],
  ])("answers 400 to a PATCH with %s", async (_, json) => {
    const image = await uploaded("kate");
    await refused(400, () => t.call("PATCH", `/images/${image.image_id}`, { user: "kate", json }));
  });

  it("answers 400 to a PATCH with malformed JSON", async () => {
    const image = await uploaded("kate");
    await refused(400, () =>
      t.call("PATCH", `/images/${image.image_id}`, {
        user: "kate",
        body: '{"title":',
        headers: { "content-type": "application/json" },
      }),
    );
  });

  it("deletes the image, its bytes and its thumbnail; afterwards it answers 404", async () => {
    const image = await uploaded("liam", { tags: ["gone"] });
    const response = await t.call("DELETE", `/images/${image.image_id}`, { user: "liam" });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    await problemOf(await t.call("GET", `/images/${image.image_id}`), 404);
    await problemOf(await t.call("DELETE", `/images/${image.image_id}`, { user: "liam" }), 404);
    expect((await t.objectKeys()).filter((key) => key.includes(image.image_id))).toEqual([]);
    expect(await t.itemsOf(image.image_id)).toEqual([]);
  });

  it("answers 404 for ids that do not exist or cannot", async () => {
    await problemOf(await t.call("GET", "/images/img_01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404);
    await problemOf(await t.call("GET", "/images/..%2F..%2Fetc%2Fpasswd"), 404);
  });
});

describe("the rest of the surface", () => {
  it("answers /health when the table and bucket answer", async () => {
    const response = await t.call("GET", "/health", { user: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("answers problem JSON for unknown routes (404) and unknown methods (405 with Allow)", async () => {
    await problemOf(await t.call("GET", "/nothing-here"), 404);
    const response = await t.call("PUT", "/images/img_01ARZ3NDEKTSV4RRFFQ69G5FAV", { json: {} });
    await problemOf(response, 405);
    expect(response.headers.get("allow")).toBe("DELETE, GET, HEAD, OPTIONS, PATCH");
  });

  it("marks every answer nosniff and gives it a request id", async () => {
    const created = await t.upload("alice", await tinyPng(3), { title: "nosniff" });
    const { image_id: id } = (await created.json()) as Image;
    const answers = [
      created,
      await t.call("GET", "/health"),
      await t.call("GET", `/images/${id}`),
      await t.call("GET", "/images?tag=none-such"),
      await t.call("GET", "/images", { user: null }),
      await t.call("GET", "/images?limit=abc"),
      await t.call("GET", "/no-such-route"),
      await t.call("PUT", `/images/${id}`),
      await t.call("GET", "/openapi.json"),
    ];
    expect(answers.map((response) => response.status)).toEqual([201, 200, 200, 200, 401, 400, 404, 405, 200]);
    for (const response of answers) {
      expect([response.status, response.headers.get("x-content-type-options")]).toEqual([response.status, "nosniff"]);
      expect([response.status, response.headers.get("x-request-id")]).toEqual([response.status, expect.any(String)]);
    }
  });
});
