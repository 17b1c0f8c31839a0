/**
 * API Gateway HTTP API (payload format 2.0) events, as the deployed API function receives them,
 * for driving packages/api/src/handlers/api.ts in-process. A body is sent base64-encoded with
 * isBase64Encoded true, as API Gateway sends a binary (multipart) body; `text` sends it as is.
 */
export interface ApiEventOptions {
  query?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Send a string body as text (isBase64Encoded false), as API Gateway does for JSON. */
  text?: boolean;
}

export function apiGatewayEvent(method: string, path: string, options: ApiEventOptions = {}) {
  const { query = "", headers = {}, body, text = false } = options;
  const encoded =
    body === undefined
      ? { isBase64Encoded: false }
      : text && typeof body === "string"
        ? { body, isBase64Encoded: false }
        : { body: Buffer.from(body).toString("base64"), isBase64Encoded: true };
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: query,
    headers: { host: "api.test.invalid", ...headers },
    requestContext: {
      accountId: "000000000000",
      apiId: "test",
      domainName: "api.test.invalid",
      domainPrefix: "api",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "vitest" },
      requestId: `req-${Math.random().toString(36).slice(2, 10)}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...encoded,
  };
}

/** A multipart/form-data body as a browser would send it: its bytes and its Content-Type. */
export async function multipartBody(form: FormData): Promise<{ bytes: Uint8Array; contentType: string }> {
  const request = new Request("http://form.invalid/", { method: "POST", body: form });
  return {
    bytes: new Uint8Array(await request.arrayBuffer()),
    contentType: request.headers.get("content-type")!,
  };
}

/** An S3 ObjectCreated notification for one key, URL-encoded as S3 sends it ('+' for spaces). */
export function s3ObjectCreatedEvent(bucket: string, key: string) {
  const encoded = encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: "us-east-1",
        eventTime: new Date().toISOString(),
        eventName: "ObjectCreated:Post",
        s3: {
          s3SchemaVersion: "1.0",
          bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encoded },
        },
      },
    ],
  };
}
