import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

/**
 * `from` and `to` on GET /images: any valid date range answers 200 (an empty page when nothing
 * can be in it), every invalid date answers 400 naming the format, and never a 500.
 */
let t: TestApi;
type Image = { image_id: string; upload_time: string };
const images: Record<string, Image> = {};

beforeAll(async () => {
  t = await startTestApi({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" });
  // Imported at chosen instants (as an import would), beside one uploaded now through the API.
  for (const [name, at] of [
    ["epoch", "1970-01-01T00:00:00.000Z"],
    ["leapDay", "2024-02-29T12:00:00.000Z"],
    ["newYear", "2025-12-31T23:30:00.000Z"],
  ] as const) {
    images[name] = await t.store.create({
      userId: "rangeuser",
      title: name,
      tags: ["ranged"],
      bytes: await tinyPng(name.length),
      uploadTime: new Date(at),
    });
  }
  const uploaded = await t.upload("rangeuser", await tinyPng(99), { title: "now", tags: "ranged" });
  expect(uploaded.status).toBe(201);
  images.now = (await uploaded.json()) as Image;
});
afterAll(async () => t?.stop());

// The three ways a listing is planned: by owner, by tag, and over every image (month buckets).
const FILTERS = ["user_id=rangeuser", "tag=ranged", ""];

async function ids(query: string): Promise<string[]> {
  const response = await t.call("GET", `/images?limit=100&${query}`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return (JSON.parse(text) as { items: Image[] }).items.map((image) => image.image_id);
}
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
const all = (...names: string[]) => names.map((name) => images[name]!.image_id);

describe.each(FILTERS)("a date range with filter '%s'", (filter) => {
  const list = (params: Record<string, string>) => ids(`${filter}&${q(params)}`);
  const mine = async (params: Record<string, string>) =>
    (await list(params)).filter((id) => Object.values(images).some((image) => image.image_id === id));

  it("reaches to the end of time: to=9999-12-31, and from=1970-01-01 with it", async () => {
    expect(await mine({ to: "9999-12-31" })).toEqual(all("now", "newYear", "leapDay", "epoch"));
    expect(await mine({ from: "1970-01-01", to: "9999-12-31" })).toEqual(all("now", "newYear", "leapDay", "epoch"));
    expect(await mine({ from: "0001-01-01", to: "9999-12-31T23:59:59.999Z" })).toEqual(
      all("now", "newYear", "leapDay", "epoch"),
    );
  });

  it("answers an empty page for a range nothing can be in, far past or far future", async () => {
    expect(await mine({ to: "1969-12-31" })).toEqual([]);
    expect(await mine({ from: "0001-01-01", to: "1969-12-31T23:59:59.999Z" })).toEqual([]);
    expect(await mine({ from: "9000-01-01" })).toEqual([]);
    expect(await mine({ from: "9000-01-01", to: "9999-12-31" })).toEqual([]);
  });

  it("is inclusive at both ends at millisecond precision, from == to included", async () => {
    const at = images.leapDay!.upload_time;
    expect(await mine({ from: at, to: at })).toEqual(all("leapDay"));
    expect(await mine({ from: images.epoch!.upload_time, to: images.epoch!.upload_time })).toEqual(all("epoch"));
    expect(await mine({ from: "2024-02-29T12:00:00.001Z" })).toEqual(all("now", "newYear"));
    expect(await mine({ to: "2024-02-29T11:59:59.999Z" })).toEqual(all("epoch"));
  });

  it("rounds digits past the millisecond inward, and an equal pair of them is an empty range, not a 400", async () => {
    expect(await mine({ from: "2024-02-29T12:00:00.000000Z", to: "2024-02-29T12:00:00.000999Z" })).toEqual(
      all("leapDay"),
    );
    expect(await mine({ from: "2024-02-29T12:00:00.0001Z" })).toEqual(all("now", "newYear"));
    expect(await mine({ from: "2024-02-29T12:00:00.0005Z", to: "2024-02-29T12:00:00.0005Z" })).toEqual([]);
  });

  it("reads offsets: the same instant in any zone, and a date that is another year in UTC", async () => {
    expect(await mine({ from: "2024-02-29T17:30:00+05:30", to: "2024-02-29T04:00:00-08:00" })).toEqual(all("leapDay"));
    // 2026-01-01T00:30+01:00 is 2025-12-31T23:30Z: the new year's eve image, in the previous month bucket.
    expect(await mine({ from: "2026-01-01T00:30:00+01:00", to: "2026-01-01T00:30:00+01:00" })).toEqual(all("newYear"));
    expect(await mine({ from: "2025-12-31T23:30:00-00:00", to: "2025-12-31T23:30Z" })).toEqual(all("newYear"));
    expect(await mine({ to: "9999-12-31T23:59:59-12:00" })).toContain(images.now!.image_id);
    expect(await mine({ from: "0001-01-01T00:00:00+14:00", to: "1970-01-01T00:00:00Z" })).toEqual(all("epoch"));
  });

  it("takes an offset whose '+' a query string turned into a space", async () => {
    expect(await ids(`${filter}&from=2024-02-29T17:30:00+05:30&to=2024-02-29T17:30:00+05:30`)).toEqual(all("leapDay"));
  });

  it("takes leap days that exist and refuses those that do not", async () => {
    expect(await mine({ from: "2024-02-29", to: "2024-02-29" })).toEqual(all("leapDay"));
    expect(await mine({ from: "2000-02-29", to: "2000-02-29" })).toEqual([]);
    for (const date of ["2025-02-29", "1900-02-29", "2024-02-30", "2024-02-29T24:00:00Z", "2026-04-31"]) {
      await problemOf(await t.call("GET", `/images?${filter}&${q({ from: date })}`), 400);
    }
  });
});

describe("dates that are not dates", () => {
  it.each([
    "0000-01-01",
    "0000-12-31T23:59:59Z",
    "10000-01-01",
    "+010000-01-01T00:00:00.000Z",
    "-000001-01-01T00:00:00Z",
    "2026-1-1",
    "20260101",
    "2026-01-01T10",
    "2026-01-01T10:00:00",
    "2026-01-01T10:00:00+25:00",
    "2026-01-01T10:00:60Z",
    "2026-01-01T10:00:00.1234567890Z",
    "yesterday",
    "1767225600000",
    "",
  ])("answers 400 for from=%s, naming the format wanted", async (date) => {
    for (const param of ["from", "to"]) {
      const problem = await problemOf(await t.call("GET", `/images?${q({ [param]: date })}`), 400);
      expect(problem.errors?.[0]?.path).toBe(param);
      expect(problem.detail).toContain("YYYY-MM-DD");
    }
  });

  it("still refuses a reversed range", async () => {
    const problem = await problemOf(await t.call("GET", `/images?${q({ from: "2026-06-01", to: "2026-05-31" })}`), 400);
    expect(problem.detail).toContain("from must not be after to");
  });
});

describe("pages over an unbounded range", () => {
  it("walks every page of to=9999-12-31 with its cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await t.call(
        "GET",
        `/images?user_id=rangeuser&to=9999-12-31&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(response.status).toBe(200);
      const page = (await response.json()) as { items: Image[]; next_cursor: string | null };
      seen.push(...page.items.map((image) => image.image_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all("now", "newYear", "leapDay", "epoch"));
  });
});
