import { PENDING_UPLOAD_PREFIX } from "../packages/core/src/storage/object-store.ts";
import { corsAllowedOrigins } from "./settings";
import { stackTableArgs } from "./table";

/** The one table, its keys and indexes derived from packages/core (see infra/table.ts). */
export const table = new sst.aws.Dynamo("ImagesTable", {
  ...stackTableArgs(),
  transform: {
    // SST turns point-in-time recovery on today; say so here, so a change of default cannot drop it.
    table: (args) => {
      args.pointInTimeRecovery = { enabled: true };
    },
  },
});

/** Where a client posts a large file; what is never finished there expires after a day. */
export const uploadPrefix = PENDING_UPLOAD_PREFIX;

/** Image bytes: private (SST blocks public access and refuses plain HTTP by default). */
export const bucket = new sst.aws.Bucket("ImagesBucket", {
  cors:
    corsAllowedOrigins.length === 0
      ? false
      : {
          allowOrigins: corsAllowedOrigins,
          // POST: the presigned form upload; PUT and GET: presigned links.
          allowMethods: ["GET", "POST", "PUT"],
          allowHeaders: ["*"],
          exposeHeaders: ["ETag"],
          maxAge: "1 hour",
        },
  lifecycle: [{ id: "expire-abandoned-uploads", prefix: uploadPrefix, expiresIn: "1 day" }],
});

// New objects are encrypted with S3-managed keys anyway; declared so that it shows in the stack.
new aws.s3.BucketServerSideEncryptionConfiguration("ImagesBucketEncryption", {
  bucket: bucket.name,
  rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
});

/** Signs list cursors: `npx sst secret set CursorSecret <at least 32 characters> --stage <name>`. */
export const cursorSecret = new sst.Secret("CursorSecret");
