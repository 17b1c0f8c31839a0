import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

/**
 * Media types are case-insensitive, and so are their parameter names (RFC 9110 §8.3.1); a
 * boundary's value is not. Whitespace around `;` and quoted values are allowed. Every place the
 * app reads a media type must read it so.
 */
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" });
});
afterAll(async () => t?.stop());

const large = { title: "declared", content_type: "image/png", size_bytes: 1000 };

function multipartBody(file: Uint8Array, boundary = "XyZ-boundary") {
  const head = (name: string, extra = "") =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n`;
  return Buffer.concat([
    Buffer.from(`${head("file", '; filename="a.png"')}Content-Type: image/png\r\n\r\n`),
    Buffer.from(file),
    Buffer.from(`\r\n${head("title")}\r\nmultipart title\r\n--${boundary}--\r\n`),
  ]);
}

/** Runs `request` and asserts it answered `status` as problem JSON and stored nothing. */
async function refused(status: number, request: () => Promise<Response>) {
  const before = await t.snapshot();
  const problem = await problemOf(await request(), status);
  expect(await t.snapshot()).toEqual(before);
  return problem;
}

describe("the JSON upload mode, whatever the case and parameters of its media type", () => {
  it.each([
    "Application/JSON",
    "APPLICATION/JSON; CHARSET=UTF-8",
    "application/json;charset=utf-8",
    'application/json ; charset="utf-8"',
    "application/json;\tcharset=UTF-8 ",
  ])("answers 201 for %s", async (type) => {
    const response = await t.call("POST", "/images/upload", {
      body: JSON.stringify(large),
      headers: { "content-type": type },
    });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(((await response.json()) as { image: { status: string } }).image.status).toBe("pending");
  });

  it.each(["application/jsonx", "application/json-seq", "application/problem+json", "text/json", "application/xml"])(
    "answers 415 for %s",
    async (type) => {
      await refused(415, () =>
        t.call("POST", "/images/upload", { body: JSON.stringify(large), headers: { "content-type": type } }),
      );
    },
  );

  it("answers 415 for JSON in another charset, and 400 for a body that is not UTF-8", async () => {
    const problem = await refused(415, () =>
      t.call("POST", "/images/upload", {
        body: JSON.stringify(large),
        headers: { "content-type": "application/json; charset=iso-8859-1" },
      }),
    );
    expect(problem.detail).toContain("UTF-8");
    const latin1 = Buffer.concat([
      Buffer.from('{"title":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('","content_type":"image/png","size_bytes":10}'),
    ]);
    await refused(400, () =>
      t.call("POST", "/images/upload", { body: latin1, headers: { "content-type": "application/json" } }),
    );
  });

  it("answers 400, not 500, for a Content-Type that is not a media type", async () => {
    for (const type of [
      "application",
      "application/",
      "/json",
      "application/json; charset",
      'application/json; a="b',
    ]) {
      await refused(400, () =>
        t.call("POST", "/images/upload", { body: JSON.stringify(large), headers: { "content-type": type } }),
      );
    }
  });

  it("reads the declared content_type case-insensitively too, and stores it in lower case", async () => {
    for (const declared of ["image/PNG", "Image/Png", " image/png "]) {
      const response = await t.call("POST", "/images/upload", { json: { ...large, content_type: declared } });
      expect(response.status, await response.clone().text()).toBe(201);
      const started = (await response.json()) as {
        image: { content_type: string };
        upload: { fields: Record<string, string> };
      };
      expect(started.image.content_type).toBe("image/png");
      expect(started.upload.fields["Content-Type"]).toBe("image/png");
    }
  });

  it("replays an idempotent retry whose Content-Type differs only in case", async () => {
    const body = JSON.stringify({ ...large, title: "retried" });
    const first = await t.call("POST", "/images/upload", {
      body,
      headers: { "content-type": "application/json", "idempotency-key": "media-type-retry" },
    });
    const again = await t.call("POST", "/images/upload", {
      body,
      headers: { "content-type": "Application/JSON; Charset=UTF-8", "idempotency-key": "media-type-retry" },
    });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(await again.json()).toEqual(await first.json());
  });
});

describe("the multipart upload mode", () => {
  it.each([
    "Multipart/Form-Data; boundary=XyZ-boundary",
    "MULTIPART/FORM-DATA; BOUNDARY=XyZ-boundary",
    "multipart/form-data;boundary=XyZ-boundary",
    "multipart/form-data ;  boundary=XyZ-boundary",
    'multipart/form-data; boundary="XyZ-boundary"',
    "multipart/form-data; charset=UTF-8; boundary=XyZ-boundary",
    "multipart/form-data; boundary=XyZ-boundary; charset=utf-8",
  ])("answers 201 for %s", async (type) => {
    const response = await t.call("POST", "/images/upload", {
      body: multipartBody(await tinyPng(type.length)),
      headers: { "content-type": type },
    });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(await response.json()).toMatchObject({ title: "multipart title", status: "ready" });
  });

  it("keeps the boundary's value case-sensitive", async () => {
    await refused(400, async () =>
      t.call("POST", "/images/upload", {
        body: multipartBody(await tinyPng(1)),
        headers: { "content-type": "multipart/form-data; boundary=xyz-BOUNDARY" },
      }),
    );
  });

  it("answers 415 for a form that is not multipart, and for none at all", async () => {
    await refused(415, () =>
      t.call("POST", "/images/upload", {
        body: "title=t",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    );
    await refused(415, async () => t.call("POST", "/images/upload", { body: multipartBody(await tinyPng(2)) }));
  });
});

describe("PATCH /images/{image_id}", () => {
  let imageId: string;
  beforeAll(async () => {
    const response = await t.upload("alice", await tinyPng(40), { title: "before" });
    imageId = ((await response.json()) as { image_id: string }).image_id;
  });

  it.each(["Application/JSON", "application/json ; Charset=UTF-8", 'APPLICATION/JSON;charset="UTF-8"'])(
    "takes %s",
    async (type) => {
      const response = await t.call("PATCH", `/images/${imageId}`, {
        body: JSON.stringify({ title: type }),
        headers: { "content-type": type },
      });
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await response.json()).toMatchObject({ title: type });
    },
  );

  it.each(["text/plain", "application/jsonx", "multipart/form-data; boundary=x", "application/json; charset=utf-16"])(
    "answers 415 for %s",
    async (type) => {
      await refused(415, () =>
        t.call("PATCH", `/images/${imageId}`, {
          body: JSON.stringify({ title: "x" }),
          headers: { "content-type": type },
        }),
      );
    },
  );
});
