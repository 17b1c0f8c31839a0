import corePackage from "../packages/core/package.json" with { type: "json" };
import { tokenSettings } from "./auth";
import { architecture, corsAllowedOrigins, runtime } from "./settings";
import { bucket, cursorSecret, table, uploadPrefix } from "./storage";

/**
 * The table, the bucket and the cursor secret reach the code by `link` (read through SST's
 * `Resource` in packages/core/src/config.ts); the rest is plain configuration.
 */
const link = [table, bucket, cursorSecret];
const environment = {
  ...tokenSettings,
  CORS_ALLOWED_ORIGINS: corsAllowedOrigins.join(","),
};
const nodejs = {
  minify: true,
  // sharp loads a native libvips: installed for linux-arm64 into the package, not bundled.
  install: { sharp: corePackage.dependencies.sharp },
  // Narrows what zod and ElectroDB pull into the bundle (path from sst.config.ts; see the file).
  plugins: "infra/bundle/plugins.mjs",
};

/** The whole HTTP API in one function (packages/api/src/handlers/api.ts). */
export const apiFunction = new sst.aws.Function("ApiFunction", {
  handler: "packages/api/src/handlers/api.handler",
  runtime,
  architecture,
  // API Gateway gives up after 30 seconds.
  timeout: "29 seconds",
  memory: "1536 MB",
  link,
  environment,
  nodejs,
});

/** Checks a file posted straight to S3 and turns its image ready. */
export const finishUploadFunction = new sst.aws.Function("FinishUploadFunction", {
  handler: "packages/api/src/handlers/finish-upload.handler",
  runtime,
  architecture,
  timeout: "2 minutes",
  memory: "2048 MB",
  // Finishing keeps the upload and its re-encoding as files in /tmp: about twice
  // MAX_LARGE_UPLOAD_BYTES (50 MiB by default), with room to spare. Raise both together.
  storage: "1024 MB",
  link,
  environment,
  nodejs,
});

bucket.notify({
  notifications: [
    {
      name: "FinishUpload",
      function: finishUploadFunction.arn,
      events: ["s3:ObjectCreated:*"],
      filterPrefix: uploadPrefix,
    },
  ],
});

// The app answers CORS itself (CORS_ALLOWED_ORIGINS), so API Gateway must not.
export const httpApi = new sst.aws.ApiGatewayV2("HttpApi", { cors: false });
httpApi.route("$default", apiFunction.arn);
