import { corsAllowedOrigins } from "./settings";
import { stackTableArgs } from "./table";

/**
 * How far back the table can be restored (DynamoDB's longest point-in-time recovery window), and
 * so how long the bucket keeps the bytes of an overwritten or deleted object: a table restored to
 * any moment in the window names only bytes that are still there (as noncurrent versions).
 */
export const RECOVERY_DAYS = 35;

/** A production table also refuses deletion by anyone, not only by `sst remove`. */
const isProduction = $app.stage === "production";

/** The one table, its keys and indexes derived from packages/core (see infra/table.ts). */
export const table = new sst.aws.Dynamo("ImagesTable", {
  ...stackTableArgs(),
  // Every change with the item before and after: the image events come from it (infra/events.ts).
  stream: "new-and-old-images",
  transform: {
    // SST turns point-in-time recovery on today; say so here, so a change of default cannot drop it.
    table: (args) => {
      args.pointInTimeRecovery = { enabled: true, recoveryPeriodInDays: RECOVERY_DAYS };
      args.deletionProtectionEnabled = isProduction;
    },
  },
});

/** The ARNs of the table's global secondary indexes, which every listing queries. */
export const tableIndexArns = Object.keys(stackTableArgs().globalIndexes).map(
  (index) => $interpolate`${table.arn}/index/${index}`,
);

/**
 * Where a client posts a large file; what is never finished there expires after a day. The same
 * as PENDING_UPLOAD_PREFIX in packages/core/src/storage/object-store.ts (infra/program.test.ts
 * checks), but not imported from there: that module brings the S3 SDK into the config SST
 * evaluates, which then resolves SST's own older @aws-sdk/core in .sst/platform and fails.
 */
export const uploadPrefix = "uploads/";

/**
 * Where the renditions live (objectKeys.rendition in packages/core/src/storage/object-store.ts;
 * infra/program.test.ts checks): the only keys the media distribution may read.
 */
export const renditionPrefix = "renditions/";

/**
 * The media distribution's ARN, which the bucket policy's one Allow names. A bucket has one
 * policy, SST's (a second one stops the deploy), and the distribution needs the bucket first, so
 * infra/media.ts hands the ARN over once it has declared the distribution.
 */
let settleMediaDistributionArn: (arn: $util.Output<string>) => void = () => undefined;
const mediaDistributionArn = $output(
  new Promise<$util.Output<string>>((resolve) => {
    settleMediaDistributionArn = resolve;
  }),
);
export const grantMediaDistribution = (arn: $util.Output<string>) => settleMediaDistributionArn(arn);

/** Days a file posted under uploads/ may wait, and its old versions stay, before S3 removes them. */
const ABANDONED_UPLOAD_DAYS = 1;

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
  // Deleted and overwritten objects stay, as noncurrent versions, for RECOVERY_DAYS.
  versioning: true,
  lifecycle: [{ id: "expire-abandoned-uploads", prefix: uploadPrefix, expiresIn: `${ABANDONED_UPLOAD_DAYS} day` }],
  transform: {
    // SST's policy refuses plain HTTP; to it is added the one Allow: CloudFront, through Origin
    // Access Control and for the media distribution alone, may get renditions/* (nothing else).
    policy: (args) => {
      args.policy = $resolve([args.policy, args.bucket, mediaDistributionArn]).apply(
        ([policy, bucketName, distributionArn]) => {
          const document = (typeof policy === "string" ? JSON.parse(policy) : policy) as {
            Statement?: unknown[];
          };
          return JSON.stringify({
            ...document,
            Statement: [
              ...(document.Statement ?? []),
              {
                Sid: "MediaDistributionReadsRenditions",
                Effect: "Allow",
                Principal: { Service: "cloudfront.amazonaws.com" },
                Action: "s3:GetObject",
                Resource: `arn:aws:s3:::${bucketName}/${renditionPrefix}*`,
                Condition: { StringEquals: { "AWS:SourceArn": distributionArn } },
              },
            ],
          });
        },
      );
    },
    // SST's rules cannot say what becomes of noncurrent versions, so these replace them (SST
    // makes the lifecycle configuration only when `lifecycle` above names a rule).
    lifecycle: (args) => {
      args.rules = [
        {
          id: "expire-abandoned-uploads",
          status: "Enabled",
          filter: { prefix: uploadPrefix },
          expiration: { days: ABANDONED_UPLOAD_DAYS },
          // A finished upload's file is deleted at once; its old version need not stay long.
          noncurrentVersionExpiration: { noncurrentDays: ABANDONED_UPLOAD_DAYS },
        },
        {
          id: "keep-deleted-bytes-for-recovery",
          status: "Enabled",
          filter: {},
          noncurrentVersionExpiration: { noncurrentDays: RECOVERY_DAYS },
          // Delete markers left with no version behind them, and parts of uploads that never completed.
          expiration: { expiredObjectDeleteMarker: true },
          abortIncompleteMultipartUpload: { daysAfterInitiation: ABANDONED_UPLOAD_DAYS },
        },
      ];
    },
  },
});

/** Every object in the bucket: what the functions' object rights are on (infra/permissions.ts). */
export const bucketObjectsArn = $interpolate`${bucket.arn}/*`;

// New objects are encrypted with S3-managed keys anyway; declared so that it shows in the stack.
new aws.s3.BucketServerSideEncryptionConfiguration("ImagesBucketEncryption", {
  bucket: bucket.name,
  rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
});

/** Signs list cursors: `npx sst secret set CursorSecret <at least 32 characters> --stage <name>`. */
export const cursorSecret = new sst.Secret("CursorSecret");
