import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, tinyPng } from "../../core/test/support/fixtures.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

/** What a person reads when a request goes wrong in the two ways a newcomer meets first. */
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => t?.stop());

const JSON_MODE =
  "send it in the JSON mode (application/json with its content_type and size_bytes, then the presigned POST it answers)";

describe("messages a person reads", () => {
  it("a direct upload over 4 MiB says 4 MiB and points at the JSON mode, however far over it is", async () => {
    const far = await problemOf(await t.upload("alice", fixture("Elephants_3840x2160.jpg"), { title: "big" }), 413);
    expect(far.detail).toBe(`the file is over the 4 MiB a direct upload takes: ${JSON_MODE}`);

    const justOver = new Uint8Array(4 * 1024 * 1024 + 1);
    justOver.set(await tinyPng());
    const near = await problemOf(await t.upload("alice", justOver, { title: "big" }), 413);
    expect(near.detail).toBe(
      `the file is ${justOver.length} bytes, over the 4 MiB a direct upload takes: ${JSON_MODE}`,
    );
  });

  it("a bad date names the format it wants", async () => {
    const problem = await problemOf(await t.call("GET", "/images?from=yesterday"), 400);
    expect(problem.detail).toMatch(/^from: must be an ISO 8601 date YYYY-MM-DD or date-time YYYY-MM-DDThh:mm/);
    expect(problem.errors).toEqual([{ path: "from", message: expect.stringContaining("YYYY-MM-DD") }]);
  });
});
