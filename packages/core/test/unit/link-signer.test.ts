import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLinkSigner } from "../../src/storage/link-signer.ts";

// Configured as packages/core/src/aws/clients.ts configures the service's client.
const base = {
  credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE00", secretAccessKey: "example-secret-never-used" },
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
} as const;
const clients = {
  "AWS, virtual-hosted": () => new S3Client({ ...base, region: "eu-west-2" }),
  "a local endpoint, path style": () =>
    new S3Client({ ...base, region: "us-east-1", endpoint: "http://127.0.0.1:4569", forcePathStyle: true }),
  "a custom endpoint, virtual-hosted": () =>
    new S3Client({ ...base, region: "us-east-1", endpoint: "https://s3.example.test" }),
};
const keys = ["thumbnails/img_01JD6W1QZ3N8Y5G2H7K4M9P0RS.webp", "images/a b/ünïcode (1)!*'.jpg"];
const overrides = {
  "response-content-type": "image/jpeg",
  "response-content-disposition": 'inline; filename="img_01JD6W1QZ3N8Y5G2H7K4M9P0RS.jpg"',
};

describe("createLinkSigner", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-11-25T12:34:56Z"));
  });
  afterEach(() => vi.useRealTimers());

  for (const [where, client] of Object.entries(clients)) {
    it(`signs the same link as getSignedUrl on ${where}`, async () => {
      const s3 = client();
      const sign = createLinkSigner(s3, "images-bucket");
      for (const key of keys) {
        const expected = await getSignedUrl(
          s3,
          new GetObjectCommand({
            Bucket: "images-bucket",
            Key: key,
            ResponseContentType: overrides["response-content-type"],
            ResponseContentDisposition: overrides["response-content-disposition"],
          }),
          { expiresIn: 900 },
        );
        expect(await sign(key, overrides, 900)).toBe(expected);
      }
    });
  }

  it("changes the signature with the key, the expiry and the time", async () => {
    const sign = createLinkSigner(clients["AWS, virtual-hosted"](), "images-bucket");
    const signature = (url: string) => new URL(url).searchParams.get("X-Amz-Signature");
    const first = await sign(keys[0]!, overrides, 900);
    expect(signature(await sign(keys[1]!, overrides, 900))).not.toBe(signature(first));
    expect(signature(await sign(keys[0]!, overrides, 60))).not.toBe(signature(first));
    vi.setSystemTime(new Date("2026-11-25T12:34:57Z"));
    expect(signature(await sign(keys[0]!, overrides, 900))).not.toBe(signature(first));
  });

  it("tries the endpoint again after a failure instead of remembering it", async () => {
    const s3 = clients["AWS, virtual-hosted"]();
    const provider = s3.config.endpointProvider;
    let calls = 0;
    s3.config.endpointProvider = ((...args: Parameters<typeof provider>) => {
      calls += 1;
      if (calls === 1) throw new Error("endpoint rules unavailable");
      return provider(...args);
    }) as typeof provider;
    const sign = createLinkSigner(s3, "images-bucket");
    await expect(sign(keys[0]!, overrides, 900)).rejects.toThrow("endpoint rules unavailable");
    expect(await sign(keys[0]!, overrides, 900)).toMatch(/^https:\/\/images-bucket\.s3\.eu-west-2\.amazonaws\.com\//);
    await sign(keys[1]!, overrides, 900);
    expect(calls).toBe(2);
  });
});
