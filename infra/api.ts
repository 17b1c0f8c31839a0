import { join, relative } from "node:path";
import corePackage from "../packages/core/package.json" with { type: "json" };
import { installedScalarScript, LAMBDA_SCALAR_SCRIPT } from "../packages/api/src/docs-script.ts";
import { tokenSettings } from "./auth";
import { API_FUNCTION_CALLS, FINISH_UPLOAD_FUNCTION_CALLS, permissionsFor, type TargetArns } from "./permissions";
import {
  apiReservedConcurrency,
  apiThrottle,
  architecture,
  corsAllowedOrigins,
  finishUploadReservedConcurrency,
  runtime,
} from "./settings";
import { bucket, bucketObjectsArn, cursorSecret, table, tableIndexArns, uploadPrefix } from "./storage";
import { mediaEnvironment, mediaPrivateKey } from "./media";

/**
 * The table's and the bucket's names reach the code by environment, and the functions' rights
 * come from infra/permissions.ts: each may make only the calls its code makes. (SST's `link`
 * would grant dynamodb:* and s3:* on them.) Only the cursor secret is linked, which grants
 * nothing: SST's `Resource` reads it in packages/core/src/config.ts. The API function, which signs
 * rendition URLs, also gets the media distribution's address and key pair id by environment and
 * the private key by the MediaPrivateKey secret (infra/media.ts).
 */
export const link = [cursorSecret];
export const environment = {
  ...tokenSettings,
  TABLE_NAME: table.name,
  BUCKET_NAME: bucket.name,
  CORS_ALLOWED_ORIGINS: corsAllowedOrigins.join(","),
};
export const nodejs = {
  minify: true,
  // sharp loads a native libvips: installed for linux-arm64 into the package, not bundled.
  install: { sharp: corePackage.dependencies.sharp },
  // Narrows what zod and ElectroDB pull into the bundle (path from sst.config.ts; see the file).
  plugins: "infra/bundle/plugins.mjs",
};

/**
 * Where the finishing function's events land once Lambda has given up on them (its retries
 * spent, or the event too old): each message holds the S3 event and the last error. Kept for
 * SQS's longest retention, 14 days; README "When finishing fails" says how to read and replay them.
 */
export const finishUploadFailures = new sst.aws.Queue("FinishUploadFailures", {
  transform: {
    queue: (args) => {
      args.messageRetentionSeconds = 14 * 24 * 3600;
    },
  },
});

/**
 * An event older than this finds its upload record expired (the link's life plus an hour's
 * grace, packages/core/src/image/large-uploads.ts), so it is sent to the failure queue instead.
 */
const FINISH_UPLOAD_MAX_EVENT_AGE_SECONDS = 3600;

const arns: TargetArns<$util.Input<string>> = {
  table: [table.arn],
  indexes: tableIndexArns,
  bucket: [bucket.arn],
  objects: [bucketObjectsArn],
  failures: [finishUploadFailures.arn],
};

/**
 * Scalar's browser script for /docs (packages/api/src/docs-page.ts), 3.5 MB: copied beside the
 * API function's bundle rather than bundled into it (the bundle's budget is 1.2 MB), from the
 * file packages/api resolves (SST takes the path from the directory of sst.config.ts).
 */
export const scalarScriptCopy = {
  from: relative($cli.paths.root, installedScalarScript(join($cli.paths.root, "packages/api/package.json"))),
  to: LAMBDA_SCALAR_SCRIPT,
};

/** The whole HTTP API in one function (packages/api/src/handlers/api.ts). */
export const apiFunction = new sst.aws.Function("ApiFunction", {
  handler: "packages/api/src/handlers/api.handler",
  runtime,
  architecture,
  // API Gateway gives up after 30 seconds.
  timeout: "29 seconds",
  memory: "1536 MB",
  concurrency: { reserved: apiReservedConcurrency },
  link: [...link, mediaPrivateKey],
  permissions: permissionsFor(API_FUNCTION_CALLS, arns),
  environment: { ...environment, ...mediaEnvironment },
  nodejs,
  copyFiles: [scalarScriptCopy],
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
  concurrency: { reserved: finishUploadReservedConcurrency },
  link,
  permissions: permissionsFor(FINISH_UPLOAD_FUNCTION_CALLS, arns),
  environment,
  nodejs,
  // S3 invokes it asynchronously: Lambda tries an event three times in all, then hands it on.
  retries: 2,
  transform: {
    eventInvokeConfig: (args) => {
      args.maximumEventAgeInSeconds = FINISH_UPLOAD_MAX_EVENT_AGE_SECONDS;
      args.destinationConfig = { onFailure: { destination: finishUploadFailures.arn } };
    },
  },
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
export const httpApi = new sst.aws.ApiGatewayV2("HttpApi", {
  cors: false,
  transform: {
    // Past these, API Gateway answers 429 before the function is invoked at all.
    stage: (args) => {
      args.defaultRouteSettings = {
        throttlingRateLimit: apiThrottle.rateLimit,
        throttlingBurstLimit: apiThrottle.burstLimit,
      };
    },
  },
});
httpApi.route("$default", apiFunction.arn);
