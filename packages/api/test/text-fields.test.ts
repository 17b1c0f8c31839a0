import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

/**
 * Text in any script is taken and stored in NFC; what makes text read other than it is (bidi
 * overrides, controls, invisible and non-characters) is refused. Every text field is held to the
 * same rules in every way it can arrive: multipart, the JSON upload mode, and edits.
 */
let t: TestApi;
let seed = 0;
beforeAll(async () => {
  t = await startTestApi({ UPLOAD_RATE_LIMIT_PER_MINUTE: "10000" });
});
afterAll(async () => t?.stop());

type Fields = { title?: string; description?: string; tags?: string[] };
type Stored = { image_id: string; title: string; description: string | null; tags: string[] };

/** The same fields sent each way the API takes them; answers the three responses. */
async function sendEveryWay(fields: Fields): Promise<Response[]> {
  const multipart = await t.upload("writer", await tinyPng(seed++), {
    title: fields.title ?? "t",
    description: fields.description,
    tags: fields.tags,
  });
  const json = await t.call("POST", "/images/upload", {
    user: "writer",
    json: { title: "t", ...fields, content_type: "image/png", size_bytes: 100 },
  });
  const target = await t.upload("writer", await tinyPng(seed++), { title: "to edit" });
  const { image_id } = (await target.json()) as Stored;
  const patch = await t.call("PATCH", `/images/${image_id}`, { user: "writer", json: fields });
  return [multipart, json, patch];
}

const stored = async (response: Response) => {
  const body = (await response.json()) as Stored | { image: Stored };
  return "image" in body ? body.image : body;
};

const FAMILY = "👨‍👩‍👧 family";
const PERSIAN = "می‌خواهم";
const HINDI = "हिन्दी";
const ENGLAND = "🏴󠁧󠁢󠁥󠁮󠁧󠁿 England";

describe("text that is valid", () => {
  it.each([
    ["a ZWJ emoji sequence", FAMILY],
    ["Persian with a ZWNJ", PERSIAN],
    ["Devanagari with combining marks", HINDI],
    ["a subdivision flag (tag characters in their emoji sequence)", ENGLAND],
    ["Hebrew with a right-to-left mark", "שלום\u200F!"],
    ["Thai with a zero-width space", "ภาษา\u200Bไทย"],
    ["a keycap and a variation selector", "1\uFE0F\u20E3 ☺\uFE0F"],
    ["a soft hyphen", "Donau\u00ADdampf\u00ADschiff"],
  ])("takes a title with %s, every way", async (_, title) => {
    for (const response of await sendEveryWay({ title, description: `${title}\nline two` })) {
      expect(response.status, await response.clone().text()).toBeLessThan(300);
      expect(await stored(response)).toMatchObject({ title, description: `${title}\nline two` });
    }
  });

  it("stores titles, descriptions and tags in NFC", async () => {
    const decomposed = "e\u0301te\u0301 cafe\u0301";
    for (const response of await sendEveryWay({ title: decomposed, description: decomposed, tags: ["Cafe\u0301"] })) {
      expect(response.status).toBeLessThan(300);
      expect(await stored(response)).toMatchObject({ title: "été café", description: "été café", tags: ["café"] });
    }
  });

  it("stores a description's line breaks as LF however they were sent", async () => {
    for (const response of await sendEveryWay({ description: "one\r\ntwo\rthree\nfour" })) {
      expect((await stored(response)).description).toBe("one\ntwo\nthree\nfour");
    }
  });

  it.each([
    [HINDI, HINDI],
    [PERSIAN, PERSIAN],
    ["عَرَبِيّ", "عَرَبِيّ"],
    ["한국어", "한국어"],
    ["日本語", "日本語"],
    ["ÉTÉ", "été"],
    ["Ⅻ_-٣", "ⅻ_-٣"],
  ])("takes the tag %s, every way, and finds it again", async (tag, expected) => {
    for (const response of await sendEveryWay({ tags: [tag] })) {
      expect(response.status, await response.clone().text()).toBeLessThan(300);
      expect((await stored(response)).tags).toEqual([expected]);
    }
    for (const query of [expected, expected.normalize("NFD"), tag.toUpperCase()]) {
      const page = await t.call("GET", `/images?tag=${encodeURIComponent(query)}&user_id=writer`);
      expect(page.status).toBe(200);
      expect(((await page.json()) as { items: Stored[] }).items.length).toBeGreaterThan(0);
    }
  });

  it("counts a title's 200 characters as code points: 200 emoji are taken, 201 are not", async () => {
    const [taken] = await sendEveryWay({ title: "🙂".repeat(200) });
    expect(taken!.status).toBe(201);
    for (const response of await sendEveryWay({ title: "🙂".repeat(201) })) {
      expect((await problemOf(response, 400)).errors?.[0]?.path).toBe("title");
    }
  });
});

describe("text that is refused", () => {
  const TROUBLE: [string, string][] = [
    ["a right-to-left override", "gpj.\u202Eexe"],
    ["a left-to-right embedding", "a\u202Ab"],
    ["a pop directional formatting", "a\u202Cb"],
    ["a right-to-left isolate", "a\u2067b"],
    ["a pop directional isolate", "a\u2069b"],
    ["a byte order mark inside", "a\uFEFFb"],
    ["a noncharacter U+FFFE", "a\uFFFEb"],
    ["a noncharacter U+FDD0", "a\uFDD0b"],
    ["a noncharacter in plane 1", "a\u{1FFFF}b"],
    ["a tag character outside a flag", "hello\u{E0041}\u{E0042}"],
    ["an interlinear annotation", "a\uFFF9b\uFFFAc\uFFFB"],
    ["a deprecated format character", "a\u206Ab"],
    ["a C1 control", "a\u009Bb"],
    ["a next-line control", "a\u0085b"],
    ["a NUL", "a\u0000b"],
    ["an escape", "\u001b[31mred"],
    ["a line separator", "a\u2028b"],
  ];

  it.each(TROUBLE)("refuses %s in a title, a description and a tag, every way", async (_, text) => {
    const cases: [string, Fields][] = [
      ["title", { title: text }],
      ["description", { description: text }],
      ["tags.0", { tags: [text] }],
    ];
    for (const [path, fields] of cases) {
      for (const response of await sendEveryWay(fields)) {
        const problem = await problemOf(response, 400);
        expect(problem.errors?.map((error) => error.path)).toContain(path);
      }
    }
  });

  it.each([
    ["only a joiner", "\u200D"],
    ["only zero-width spaces", "\u200B\u200B"],
    ["only a Hangul filler", "\u3164"],
    ["only combining marks", "\u0301\u0308"],
    ["only a braille blank", "\u2800"],
  ])("refuses a title of %s: nothing a reader can see", async (_, title) => {
    for (const response of await sendEveryWay({ title })) {
      expect((await problemOf(response, 400)).errors?.[0]?.path).toBe("title");
    }
  });

  it("refuses lone surrogates in every text field", async () => {
    for (const body of [
      '{"title":"bad \\ud800","content_type":"image/png","size_bytes":10}',
      '{"title":"t","description":"\\udc00 alone","content_type":"image/png","size_bytes":10}',
      '{"title":"t","tags":["a\\ud83d"],"content_type":"image/png","size_bytes":10}',
    ]) {
      const response = await t.call("POST", "/images/upload", {
        user: "writer",
        body,
        headers: { "content-type": "application/json" },
      });
      await problemOf(response, 400);
    }
  });

  it.each([
    ["a tag that starts with a combining mark", "\u0301abc"],
    ["a tag with a joiner at its end", "abc\u200D"],
    ["a tag with a joiner at its start", "\u200Cabc"],
    ["a tag with an emoji", "cat🐱"],
    ["a tag of a Hangul filler", "\u3164"],
    ["a tag of 65 code points", "ह".repeat(65)],
    ["a tag with a space", "two words"],
  ])("refuses %s, every way", async (_, tag) => {
    for (const response of await sendEveryWay({ tags: [tag] })) {
      expect((await problemOf(response, 400)).errors?.[0]?.path).toBe("tags.0");
    }
  });

  it("refuses a troublemaker in a tag filter", async () => {
    await problemOf(await t.call("GET", `/images?tag=${encodeURIComponent("a\u202Eb")}`), 400);
    await problemOf(await t.call("GET", `/images?user_id=${encodeURIComponent("ali\u200Dce")}`), 400);
  });
});
