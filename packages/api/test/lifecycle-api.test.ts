import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, tinyPng } from "../../core/test/support/fixtures.ts";
import { problemOf, sha256, startTestApi, type TestApi } from "./support/test-api.ts";

/** Recently deleted, duplicates and capture time through the HTTP API. */
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" });
});
afterAll(async () => t?.stop());

interface Image {
  image_id: string;
  status: string;
  tags: string[];
  taken_at: string | null;
  trashed_at?: string;
  purge_at?: string;
  renditions?: unknown[];
}

let seed = 700;
async function uploaded(user: string, bytes?: Uint8Array, query = ""): Promise<Image> {
  const form = new FormData();
  form.append("file", new Blob([bytes ?? (await tinyPng(seed++))]));
  form.append("title", "t");
  form.append("tags", "sun,sea");
  const response = await t.call("POST", `/images/upload${query}`, { user, body: form });
  expect(response.status).toBe(201);
  return (await response.json()) as Image;
}

const json = async <T>(response: Response, status: number): Promise<T> => {
  expect(response.status, await response.clone().text()).toBe(status);
  return (await response.json()) as T;
};

/** Runs `request` and asserts it answered `status` as problem JSON and stored nothing. */
async function refused(status: number, request: () => Promise<Response>) {
  const before = await t.snapshot();
  const problem = await problemOf(await request(), status);
  expect(await t.snapshot()).toEqual(before);
  return problem;
}

const ids = (page: { items: { image_id: string }[] }) => page.items.map((item) => item.image_id);

describe("POST /images/{image_id}/trash and /restore", () => {
  it("trash: 200 trashed with trashed_at and purge_at, out of every listing, 404 to others; restore brings it back", async () => {
    const image = await uploaded("ann");
    const trashed = await json<Image>(await t.call("POST", `/images/${image.image_id}/trash`, { user: "ann" }), 200);
    expect(trashed).toMatchObject({ status: "trashed", tags: ["sun", "sea"] });
    // The TTL keeps whole seconds: the purge comes within a second of 30 days after the trash.
    expect(Math.abs(Date.parse(trashed.purge_at!) - Date.parse(trashed.trashed_at!) - 30 * 86_400_000)).toBeLessThan(
      1000,
    );
    await problemOf(await t.call("GET", `/images/${image.image_id}`, { user: "bob" }), 404);
    expect(await json<Image>(await t.call("GET", `/images/${image.image_id}`, { user: "ann" }), 200)).toMatchObject({
      status: "trashed",
    });
    for (const path of ["/images", "/images?user_id=ann", "/images?tag=sun", "/images?user_id=ann&tag=sea"]) {
      expect(ids(await json(await t.call("GET", path, { user: "ann" }), 200))).not.toContain(image.image_id);
    }
    const trash = await json<{ items: Image[]; next_cursor: string | null }>(
      await t.call("GET", "/images?trashed=true", { user: "ann" }),
      200,
    );
    expect(trash.items.map((item) => [item.image_id, item.status])).toEqual([[image.image_id, "trashed"]]);
    expect(trash.items[0]!.renditions!.length).toBeGreaterThan(0);
    expect(ids(await json(await t.call("GET", "/images?trashed=true", { user: "bob" }), 200))).toEqual([]);

    await problemOf(await t.call("POST", `/images/${image.image_id}/restore`, { user: "bob" }), 404);
    const restored = await json<Image>(await t.call("POST", `/images/${image.image_id}/restore`, { user: "ann" }), 200);
    expect(restored).toMatchObject({ status: "ready", tags: ["sun", "sea"] });
    expect(restored).not.toHaveProperty("trashed_at");
    // As GET answers it: its renditions and the original's link are back.
    expect(restored.renditions!.length).toBeGreaterThan(0);
    expect((await fetch((restored as Image & { download_url: string }).download_url)).status).toBe(200);
    expect(ids(await json(await t.call("GET", "/images?tag=sun", { user: "bob" }), 200))).toContain(image.image_id);
  });

  it("is refused as problem JSON for others, unknown ids, no token and a pending upload, storing nothing", async () => {
    const image = await uploaded("cal");
    await refused(404, () => t.call("POST", `/images/${image.image_id}/trash`, { user: "dee" }));
    await refused(404, () => t.call("POST", "/images/img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4/trash", { user: "cal" }));
    await refused(404, () => t.call("POST", "/images/not-an-id/restore", { user: "cal" }));
    await refused(401, () => t.call("POST", `/images/${image.image_id}/trash`, { user: null }));
    await refused(405, () => t.call("GET", `/images/${image.image_id}/trash`, { user: "cal" }));
    const started = await json<{ image: { image_id: string } }>(
      await t.call("POST", "/images/upload", {
        user: "cal",
        json: { title: "big", content_type: "image/png", size_bytes: 1000 },
      }),
      201,
    );
    await refused(409, () => t.call("POST", `/images/${started.image.image_id}/trash`, { user: "cal" }));
  });

  it("a trashed image is not edited (409) but is deleted at once (204)", async () => {
    const image = await uploaded("eve");
    await json(await t.call("POST", `/images/${image.image_id}/trash`, { user: "eve" }), 200);
    await refused(409, () => t.call("PATCH", `/images/${image.image_id}`, { user: "eve", json: { title: "x" } }));
    expect((await t.call("DELETE", `/images/${image.image_id}`, { user: "eve" })).status).toBe(204);
    expect(await t.itemsOf(image.image_id)).toEqual([]);
    await problemOf(await t.call("GET", `/images/${image.image_id}`, { user: "eve" }), 404);
  });

  it("GET /images?trashed=true takes limit and cursor only", async () => {
    for (const query of ["trashed=true&user_id=eve", "trashed=true&tag=sun", "trashed=true&from=2026-01-01"]) {
      const problem = await refused(400, () => t.call("GET", `/images?${query}`, { user: "eve" }));
      expect(problem.detail).toMatch(/is not taken with trashed=true/);
    }
    await refused(400, () => t.call("GET", "/images?trashed=yes", { user: "eve" }));
    await refused(400, () => t.call("GET", "/images?trashed=true&cursor=abc", { user: "eve" }));
    await refused(400, () => t.call("GET", "/images?trashed=true&limit=0", { user: "eve" }));
  });
});

describe("POST /images/check and on_duplicate", () => {
  it("answers which files the caller has, by the sha256 of the bytes as uploaded", async () => {
    const bytes = await tinyPng(seed++);
    const image = await uploaded("fay", bytes);
    const unknown = sha256(await tinyPng(seed++));
    const answer = await json(
      await t.call("POST", "/images/check", { user: "fay", json: { sha256: [sha256(bytes).toUpperCase(), unknown] } }),
      200,
    );
    expect(answer).toEqual({ known: [{ sha256: sha256(bytes), image_id: image.image_id }] });
    expect(
      await json(await t.call("POST", "/images/check", { user: "gus", json: { sha256: [sha256(bytes)] } }), 200),
    ).toEqual({
      known: [],
    });
  });

  it("refuses bad digests, too many, other fields and other bodies as problem JSON", async () => {
    const hex = "a".repeat(64);
    await refused(400, () => t.call("POST", "/images/check", { json: { sha256: ["xyz"] } }));
    await refused(400, () => t.call("POST", "/images/check", { json: { sha256: [] } }));
    await refused(400, () => t.call("POST", "/images/check", { json: { sha256: Array(101).fill(hex) } }));
    await refused(400, () => t.call("POST", "/images/check", { json: { sha256: [hex], extra: 1 } }));
    await refused(400, () =>
      t.call("POST", "/images/check", { body: "{", headers: { "content-type": "application/json" } }),
    );
    await refused(415, () => t.call("POST", "/images/check", { body: "x", headers: { "content-type": "text/plain" } }));
    await refused(401, () => t.call("POST", "/images/check", { user: null, json: { sha256: [hex] } }));
  });

  it("on_duplicate: store (default) stores again, reject is a 409 naming the image, return is 200 with it", async () => {
    const bytes = await tinyPng(seed++);
    const first = await uploaded("hal", bytes);
    const second = await uploaded("hal", bytes, "?on_duplicate=store");
    expect(second.image_id).not.toBe(first.image_id);
    const form = () => {
      const body = new FormData();
      body.append("file", new Blob([bytes]));
      body.append("title", "again");
      return body;
    };
    const problem = (await (
      await t.call("POST", "/images/upload?on_duplicate=reject", { user: "hal", body: form() })
    ).json()) as { status: number; existing_image_id: string };
    expect(problem).toMatchObject({ status: 409, existing_image_id: first.image_id });
    const returned = await json<Image>(
      await t.call("POST", "/images/upload?on_duplicate=return", { user: "hal", body: form() }),
      200,
    );
    expect(returned.image_id).toBe(first.image_id);
    await refused(400, () => t.call("POST", "/images/upload?on_duplicate=maybe", { user: "hal", body: form() }));

    // The JSON mode decides at the start when the digest comes with it.
    const declared = { title: "big", content_type: "image/png", size_bytes: bytes.length, sha256: sha256(bytes) };
    const rejected = (await (
      await t.call("POST", "/images/upload?on_duplicate=reject", { user: "hal", json: declared })
    ).json()) as { existing_image_id: string };
    expect(rejected.existing_image_id).toBe(first.image_id);
    const existing = await json<Image>(
      await t.call("POST", "/images/upload?on_duplicate=return", { user: "hal", json: declared }),
      200,
    );
    expect(existing.image_id).toBe(first.image_id);
    await refused(400, () =>
      t.call("POST", "/images/upload", { user: "hal", json: { ...declared, sha256: "not a digest" } }),
    );
  });
});

describe("taken_at", () => {
  it("is the EXIF capture time with its offset, read before the metadata is stripped; GPS is never stored", async () => {
    const photo = await sharp(fixture("FreshFlowerGPS.jpg"))
      .keepExif()
      .withExifMerge({ IFD2: { DateTimeOriginal: "2021:07:14 09:30:05", OffsetTimeOriginal: "+02:00" } })
      .jpeg()
      .toBuffer();
    const image = await uploaded("ivy", photo);
    expect(image.taken_at).toBe("2021-07-14T09:30:05+02:00");
    const links = await json<{ download_url: string; taken_at: string }>(
      await t.call("GET", `/images/${image.image_id}`, { user: "ivy" }),
      200,
    );
    expect(links.taken_at).toBe("2021-07-14T09:30:05+02:00");
    const stored = Buffer.from(await (await fetch(links.download_url)).arrayBuffer());
    expect((await sharp(stored).metadata()).exif).toBeUndefined();
    const listed = await json<{ items: Image[] }>(
      await t.call("GET", "/images?tag=sun&user_id=ivy", { user: "ivy" }),
      200,
    );
    expect(listed.items[0]!.taken_at).toBe("2021-07-14T09:30:05+02:00");
    expect((await uploaded("ivy")).taken_at).toBeNull();
  });
});
