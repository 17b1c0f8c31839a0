import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/aws/clients.ts";
import { EndpointGuardError, isLocalHost } from "../../src/aws/endpoint-guard.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";

const base = { TABLE_NAME: "t", BUCKET_NAME: "b" };

describe("configuration", () => {
  it("names every missing or wrong variable", () => {
    expect(() => loadConfig({ MAX_IMAGE_PIXELS: "lots" })).toThrow(/TABLE_NAME.*BUCKET_NAME.*MAX_IMAGE_PIXELS/);
  });

  it("has the contract's defaults", () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      maxImagePixels: 50_000_000,
      maxDirectUploadBytes: 4 * 1024 * 1024,
      region: "us-east-1",
    });
    expect(config.downloadUrlTtlSeconds).toBeLessThanOrEqual(900);
    expect(config.localEndpointsOnly).toBe(false);
    expect(config.credentials).toBeUndefined();
  });

  it("refuses to run in Lambda without a cursor secret, and never keeps download links over 15 minutes", () => {
    expect(() => loadConfig({ ...base, AWS_LAMBDA_FUNCTION_NAME: "api" })).toThrow(ConfigError);
    const jwks = {
      AUTH_JWKS_URL: "https://issuer.example/jwks.json",
      AUTH_ISSUER: "https://issuer.example",
      AUTH_AUDIENCE: "client",
    };
    const lambda = { ...base, ...jwks, AWS_LAMBDA_FUNCTION_NAME: "api" };
    expect(() => loadConfig(lambda)).toThrow(/CURSOR_SECRET/);
    expect(loadConfig({ ...lambda, CURSOR_SECRET: "s".repeat(32) }).auth).toEqual({
      kind: "jwks",
      jwksUrl: jwks.AUTH_JWKS_URL,
      issuer: jwks.AUTH_ISSUER,
      audience: "client",
    });
    expect(() => loadConfig({ ...base, DOWNLOAD_URL_TTL_SECONDS: "901" })).toThrow(/DOWNLOAD_URL_TTL_SECONDS/);
  });

  it("refuses development tokens in Lambda, and a partial issuer configuration anywhere", () => {
    expect(() => loadConfig({ ...base, AWS_LAMBDA_FUNCTION_NAME: "api", CURSOR_SECRET: "s".repeat(32) })).toThrow(
      /AUTH_JWKS_URL/,
    );
    expect(() => loadConfig({ ...base, AUTH_ISSUER: "https://issuer.example" })).toThrow(/go together/);
    expect(loadConfig(base).auth).toEqual({ kind: "development" });
  });

  it("posts webhooks only when it can sign them, and takes the lifecycle's defaults", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    expect(() => loadConfig({ ...base, WEBHOOK_URL: "http://127.0.0.1:9/hook" })).toThrow(/WEBHOOK_SECRET/);
    expect(() => loadConfig({ ...base, WEBHOOK_SECRET: "not-a-whsec" })).toThrow(/WEBHOOK_SECRET/);
    const local = loadConfig({ ...base, WEBHOOK_URL: "http://127.0.0.1:9/hook", WEBHOOK_SECRET: secret });
    expect(local.webhook).toEqual({ url: "http://127.0.0.1:9/hook", secret });
    // Deployed, the secret signs what EventBridge delivers; there is no single URL.
    const deployed = loadConfig({ ...base, WEBHOOK_SECRET: secret, EVENT_BUS_NAME: "images-events" });
    expect(deployed).toMatchObject({ webhook: undefined, webhookSecret: secret, eventBusName: "images-events" });
    expect(loadConfig(base)).toMatchObject({ trashDays: 30, listingShards: expect.any(Number) });
  });

  it("under tests, insists on emulator endpoints", () => {
    expect(() => loadConfig({ ...base, VITEST: "true" })).toThrow(/DYNAMODB_ENDPOINT/);
  });
});

describe("endpoint guard", () => {
  it("knows local hosts", () => {
    for (const host of ["localhost", "127.0.0.1", "127.5.0.9", "[::1]", "localstack", "api.localhost"])
      expect(isLocalHost(host)).toBe(true);
    for (const host of ["dynamodb.us-east-1.amazonaws.com", "10.0.0.1", "127.0.0.1.evil.com", "s3.amazonaws.com"])
      expect(isLocalHost(host)).toBe(false);
  });

  it("stops a request to real AWS before it leaves the process", async () => {
    const config = loadConfig({
      ...base,
      AWS_ENDPOINT_GUARD: "local",
      DYNAMODB_ENDPOINT: "https://dynamodb.us-east-1.amazonaws.com",
      S3_ENDPOINT: "https://s3.us-east-1.amazonaws.com",
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "y",
    });
    const { dynamo, s3 } = createAwsClients(config);
    await expect(dynamo.send(new ListTablesCommand({}))).rejects.toBeInstanceOf(EndpointGuardError);
    await expect(s3.send(new ListBucketsCommand({}))).rejects.toBeInstanceOf(EndpointGuardError);
  });
});
