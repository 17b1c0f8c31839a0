import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PresignedUpload } from "@images/core";
import { fixture, tinyPng } from "../../core/test/support/fixtures.ts";
import { postToS3 } from "../../core/test/support/post-upload.ts";
import { startTestStore, type TestStore } from "../../core/test/support/local-store.ts";
import { signDevelopmentToken } from "../src/development-token.ts";
import { apiGatewayEvent, multipartBody, s3ObjectCreatedEvent } from "./support/api-gateway-event.ts";

/**
 * The two deployed functions, in-process: src/handlers/api.ts answers API Gateway v2 events
 * (hono/aws-lambda turns them into requests and the answers back), src/handlers/finish-upload.ts
 * takes the bucket's ObjectCreated records. Both read their Config from the environment at import,
 * as in Lambda, so the environment is pointed at the embedded emulators before they are imported.
 * (infra/bundle.test.ts runs the esbuild bundle of the API function; this runs its sources.)
 */
type LambdaAnswer = { statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded: boolean };
type ApiHandler = (event: unknown, context: unknown) => Promise<LambdaAnswer>;

let t: TestStore;
let api: ApiHandler;
let finishUpload: (event: any) => Promise<void>;
let auth: Record<string, string>;
const saved = { ...process.env };

beforeAll(async () => {
  // No bucket events: the finishing function below is what finishes each upload.
  t = await startTestStore({}, { autoFinish: false });
  const { config } = t;
  Object.assign(process.env, {
    TABLE_NAME: config.tableName,
    BUCKET_NAME: config.bucketName,
    DYNAMODB_ENDPOINT: config.dynamoEndpoint,
    S3_ENDPOINT: config.s3Endpoint,
    AWS_ACCESS_KEY_ID: config.credentials?.accessKeyId,
    AWS_SECRET_ACCESS_KEY: config.credentials?.secretAccessKey,
    AWS_ENDPOINT_GUARD: "local",
  });
  api = (await import("../src/handlers/api.ts")).handler as unknown as ApiHandler;
  finishUpload = (await import("../src/handlers/finish-upload.ts")).handler;
  auth = { authorization: `Bearer ${await signDevelopmentToken("lambda-user")}` };
});
afterAll(async () => {
  process.env = saved;
  await t?.stop();
});

const invoke = async (event: ReturnType<typeof apiGatewayEvent>) => {
  const answer = await api(event, {});
  const text = answer.isBase64Encoded ? Buffer.from(answer.body, "base64").toString("utf8") : answer.body;
  return { ...answer, json: JSON.parse(text) as Record<string, any> };
};

describe("the API function (API Gateway v2 events)", () => {
  let uploadedId: string;

  it("stores a multipart upload whose body came base64-encoded", async () => {
    const png = await tinyPng(41);
    const form = new FormData();
    form.append("file", new Blob([png], { type: "image/png" }), "harbour.png");
    form.append("title", "Harbour at dawn");
    form.append("tags", "Harbour");
    const { bytes, contentType } = await multipartBody(form);
    const event = apiGatewayEvent("POST", "/images/upload", {
      headers: { ...auth, "content-type": contentType },
      body: bytes,
    });
    expect(event.isBase64Encoded).toBe(true);
    const answer = await invoke(event);
    expect(answer.statusCode).toBe(201);
    expect(answer.json).toMatchObject({ title: "Harbour at dawn", tags: ["harbour"], user_id: "lambda-user" });
    uploadedId = answer.json.image_id;
  });

  it("answers a GET for one image", async () => {
    const answer = await invoke(apiGatewayEvent("GET", `/images/${uploadedId}`, { headers: auth }));
    expect(answer.statusCode).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    expect(answer.json).toMatchObject({ image_id: uploadedId, title: "Harbour at dawn" });
    expect(answer.json.download_url).toMatch(/X-Amz-Signature=/);
  });

  it("answers a listing filtered by the query string", async () => {
    const answer = await invoke(apiGatewayEvent("GET", "/images", { query: "tag=harbour&limit=5", headers: auth }));
    expect(answer.statusCode).toBe(200);
    expect(answer.json.items.map((item: { image_id: string }) => item.image_id)).toEqual([uploadedId]);
  });

  it("answers problem documents: a bad query, no token, an unknown image", async () => {
    const invalid = await invoke(apiGatewayEvent("GET", "/images", { query: "limit=abc", headers: auth }));
    expect(invalid.statusCode).toBe(400);
    expect(invalid.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(invalid.json.detail).toMatch(/^limit: /);
    const anonymous = await invoke(apiGatewayEvent("GET", "/images"));
    expect(anonymous.statusCode).toBe(401);
    const unknown = await invoke(apiGatewayEvent("GET", "/images/img_doesnotexist000000000000", { headers: auth }));
    expect(unknown.statusCode).toBe(404);
  });

  it("starts a JSON upload sent as text, which the finishing function then turns ready", async () => {
    const jpeg = fixture("Elephants_3840x2160.jpg");
    const answer = await invoke(
      apiGatewayEvent("POST", "/images/upload", {
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ title: "Elephants", content_type: "image/jpeg", size_bytes: jpeg.length }),
        text: true,
      }),
    );
    expect(answer.statusCode).toBe(201);
    const started = answer.json as { image: { image_id: string; status: string }; upload: PresignedUpload };
    expect(started.image.status).toBe("pending");
    expect((await postToS3(started.upload, jpeg)).status).toBeLessThan(300);

    const pendingKeys = (await t.objectKeys()).filter((key) => key.startsWith("uploads/"));
    expect(pendingKeys).toHaveLength(1);
    // A record without a key is skipped; the upload's key arrives URL-encoded, as S3 sends it.
    await finishUpload({
      Records: [{ s3: {} }, ...s3ObjectCreatedEvent(t.config.bucketName, pendingKeys[0]!).Records],
    });

    const ready = await invoke(apiGatewayEvent("GET", `/images/${started.image.image_id}`, { headers: auth }));
    expect(ready.json).toMatchObject({ status: "ready", title: "Elephants", width: 3840, height: 2160 });
    expect((await t.objectKeys()).filter((key) => key.startsWith("uploads/"))).toEqual([]);
  });

  it("finishes nothing for an event with no records, and ignores a key that is gone", async () => {
    const before = await t.snapshot();
    await finishUpload({});
    await finishUpload(s3ObjectCreatedEvent(t.config.bucketName, "uploads/gone with spaces"));
    expect(await t.snapshot()).toEqual(before);
  });
});
