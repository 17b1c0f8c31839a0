import { AppError, loadConfig, type ImageStore } from "@images/core";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { signDevelopmentToken } from "../src/development-token.ts";
import { createLogger } from "../src/logger.ts";
import { problemOf } from "./support/test-api.ts";

/** The app over a store that fails on purpose: how failures reach a client. */
function appWith(failure: unknown) {
  const fail = async () => {
    throw failure;
  };
  const store = {
    list: fail,
    get: fail,
    getWithLinks: fail,
    create: fail,
    update: fail,
    remove: fail,
    health: fail,
  } as unknown as ImageStore;
  const lines: string[] = [];
  const destination = { write: (line: string) => lines.push(line) };
  const config = loadConfig({ TABLE_NAME: "t", BUCKET_NAME: "b" });
  return { app: createApp({ config, store, logger: createLogger({ destination }) }), lines };
}

const get = async (app: ReturnType<typeof createApp>, path: string) =>
  app.request(path, { headers: { authorization: `Bearer ${await signDevelopmentToken("alice")}` } });

describe("failures behind the API", () => {
  it("answers 500 for an unexpected error, says nothing internal, and logs it with the request id", async () => {
    const { app, lines } = appWith(new Error("DynamoDB table arn:aws:secret exploded at line 42"));
    const response = await get(app, "/images");
    const problem = await problemOf(response, 500);
    expect(JSON.stringify(problem)).not.toMatch(/arn|DynamoDB|line 42/);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      logged.some(
        (entry) => entry.requestId === response.headers.get("x-request-id") && String(entry.error).includes("exploded"),
      ),
    ).toBe(true);
  });

  it("answers 503 with Retry-After when storage is throttling", async () => {
    const { app } = appWith(
      new AppError("unavailable", "listing images: storage is busy or unavailable, try again", {
        retryAfterSeconds: 1,
      }),
    );
    const response = await get(app, "/images");
    await problemOf(response, 503);
    expect(response.headers.get("retry-after")).toBe("1");
    await problemOf(await app.request("/health"), 503);
  });

  it("never logs a bearer token", async () => {
    const token = await signDevelopmentToken("alice");
    const { app, lines } = appWith(new Error("boom"));
    await app.request("/images", { headers: { authorization: `Bearer ${token}` } });
    expect(lines.join("\n")).not.toContain(token.split(".")[2]);
  });
});
