import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mapWithConcurrency, nearestRendition } from "../src/commands.ts";
import { tokenSubject } from "../src/config.ts";
import { sniffImageType } from "../src/files.ts";
import { formatBytes } from "@images/client";
import { formatTable } from "../src/output.ts";
import { describeProblem } from "../src/problem.ts";
import { FIXTURES_DIR } from "./support/dev-server.ts";

const head = (name: string) => readFileSync(join(FIXTURES_DIR, name)).subarray(0, 32);

describe("the CLI's parts", () => {
  it("recognises the accepted formats from their first bytes", () => {
    expect(sniffImageType(head("FreshFlower.jpg"))).toBe("image/jpeg");
    expect(sniffImageType(head("Spring.png"))).toBe("image/png");
    expect(sniffImageType(head("wood-d.webp"))).toBe("image/webp");
    expect(sniffImageType(head("oceans.svg"))).toBeUndefined();
    expect(sniffImageType(Buffer.from("GIF89a"))).toBe("image/gif");
  });

  it("runs at most `limit` jobs at once and keeps the answers in order", async () => {
    let running = 0;
    let most = 0;
    const answers = await mapWithConcurrency([5, 1, 3, 2, 4], 2, async (delay, index) => {
      most = Math.max(most, ++running);
      await new Promise((done) => setTimeout(done, delay * 5));
      running--;
      return index;
    });
    expect(answers).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it("picks the rendition nearest a size on the long side: the smallest at or above it, else the largest", () => {
    // Portrait: the long side is the height; the list need not come sorted.
    const rungs = [
      { width: 1080, height: 1440 },
      { width: 240, height: 320 },
      { width: 480, height: 640 },
    ];
    const pick = (size: number) => nearestRendition(rungs, size)?.height;
    expect([1, 320, 321, 640, 641, 1440, 9999].map(pick)).toEqual([320, 320, 640, 640, 1440, 1440, 1440]);
    expect(nearestRendition([], 640)).toBeUndefined();
  });

  it("prints problems as their detail and each field it does not already say, with a hint on 401", () => {
    const invalid = { type: "about:blank", title: "Bad Request", status: 400, detail: "tags.0: bad" };
    expect(describeProblem({ ...invalid, errors: [{ path: "tags.0", message: "bad" }] })).toEqual([
      "tags.0: bad (400 Bad Request)",
    ]);
    expect(
      describeProblem({
        ...invalid,
        errors: [
          { path: "tags.0", message: "bad" },
          { path: "title", message: "empty" },
        ],
      }),
    ).toEqual(["tags.0: bad (400 Bad Request)", "  title: empty"]);
    expect(describeProblem({ ...invalid, detail: "request: bad", errors: [{ path: "", message: "bad" }] })).toEqual([
      "request: bad (400 Bad Request)",
    ]);
    expect(describeProblem({ type: "about:blank", title: "Unauthorized", status: 401, detail: "expired" })).toContain(
      "  sign in again: images login",
    );
  });

  it("formats tables, sizes and token subjects", () => {
    expect(
      formatTable(
        ["ID", "TITLE"],
        [
          ["a", "x"],
          ["long-id", "y"],
        ],
      ),
    ).toBe("ID       TITLE\na        x\nlong-id  y");
    expect(formatBytes(80905)).toBe("79.0 KiB");
    expect(formatBytes(8484634)).toBe("8.1 MiB");
    const payload = Buffer.from(JSON.stringify({ sub: "alice" })).toString("base64url");
    expect(tokenSubject(`x.${payload}.y`)).toBe("alice");
    expect(tokenSubject("garbage")).toBeUndefined();
  });
});
