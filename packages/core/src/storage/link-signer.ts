import { formatUrl } from "@aws-sdk/core/util";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { S3RequestPresigner } from "@aws-sdk/s3-request-presigner";
import { getEndpointFromInstructions } from "@smithy/core/endpoints";
import { HttpRequest } from "@smithy/core/protocols";

/** The query parameters a GET link may ask S3 to answer with. */
export interface LinkOverrides {
  "response-content-type"?: string;
  "response-content-disposition"?: string;
}

/** The bucket's endpoint and how S3 wants it signed; the same for every key of one bucket. */
interface Target {
  endpoint: { protocol: string; hostname: string; port?: number; host: string; basePath: string };
  presigner: S3RequestPresigner;
  signingRegion?: string;
  signingService?: string;
}

/** S3 escapes each segment of a key like encodeURIComponent, and `!'()*` as well. */
const encodeKey = (key: string) =>
  key
    .split("/")
    .map((segment) =>
      encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join("/");

/**
 * Presigned GET links, as `getSignedUrl` makes them, without running the client's whole
 * middleware stack for each one: the bucket's endpoint (the client's own endpoint rules: region,
 * path style, custom endpoint) and its signing scope are resolved once, then each link is one
 * SigV4 query signature. A list page signs 20 links, so this is most of its cost saved.
 * link-signer.test.ts proves the links equal getSignedUrl's, byte for byte.
 */
export function createLinkSigner(s3: S3Client, bucket: string) {
  let target: Promise<Target> | undefined;

  async function resolve(): Promise<Target> {
    const endpoint = await getEndpointFromInstructions(
      { Bucket: bucket, Key: "key" },
      GetObjectCommand as never,
      s3.config as never,
    );
    const scheme = endpoint.properties?.authSchemes?.[0] as
      { name?: string; signingRegion?: string; signingName?: string } | undefined;
    if (scheme?.name && scheme.name !== "sigv4") {
      throw new Error(`S3 asks for ${scheme.name} signing, which links are not made with`);
    }
    const signingRegion = scheme?.signingRegion;
    const { protocol, hostname, port, host, pathname } = new URL(endpoint.url.href);
    return {
      endpoint: {
        protocol,
        hostname,
        port: port ? Number(port) : undefined,
        host,
        basePath: pathname.endsWith("/") ? pathname : `${pathname}/`,
      },
      presigner: new S3RequestPresigner({
        ...s3.config,
        signingName: scheme?.signingName,
        region: async () => signingRegion ?? (await s3.config.region()),
      }),
      signingRegion,
      signingService: scheme?.signingName,
    };
  }

  return async function signGet(key: string, overrides: LinkOverrides, expiresInSeconds: number): Promise<string> {
    // Resolved on first use; a failure is not remembered, so the next link tries again.
    target ??= resolve().catch((error: unknown) => {
      target = undefined;
      throw error;
    });
    const { endpoint, presigner, signingRegion, signingService } = await target;
    const request = new HttpRequest({
      method: "GET",
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port,
      path: `${endpoint.basePath}${encodeKey(key)}`,
      query: { ...overrides, "x-id": "GetObject" },
      headers: { host: endpoint.host },
    });
    const signed = await presigner.presign(request, { expiresIn: expiresInSeconds, signingRegion, signingService });
    return formatUrl(signed);
  };
}
