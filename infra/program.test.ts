import { execFileSync } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { objectKeys, PENDING_UPLOAD_PREFIX } from "../packages/core/src/storage/object-store.ts";
import { stackTableArgs } from "./table.ts";

/**
 * Runs sst.config.ts and infra/ with stand-ins for SST's globals (sst, aws, $interpolate,
 * $config) that record what the stack asks for: the wiring is checked without AWS or Pulumi.
 */
// The stand-ins take SST's arguments as they come.
type Args = Record<string, any>;

interface Made {
  kind: string;
  name: string;
  args: Args;
}
interface Call {
  on: string;
  method: string;
  args: unknown[];
}
// What the run in progress records (runStack starts each run with new lists).
let made: Made[] = [];
let calls: Call[] = [];

/** A stand-in component: records its arguments, answers its outputs as "<name>.<output>". */
function component(
  kind: string,
  outputs: string[],
  methods: Record<string, (self: Made, ...args: any[]) => unknown> = {},
) {
  return class {
    constructor(name: string, args: Args = {}) {
      const record = { kind, name, args };
      made.push(record);
      for (const output of outputs) Object.assign(this, { [output]: `${name}.${output}` });
      for (const [method, body] of Object.entries(methods)) {
        Object.assign(this, {
          [method]: (...args: unknown[]) => {
            calls.push({ on: name, method, args });
            return body(record, ...args);
          },
        });
      }
      Object.assign(this, { record });
    }
  };
}

const UserPoolClient = component("CognitoUserPoolClient", ["id"]);
/** SST's Bucket also answers its underlying S3 bucket, as `nodes.bucket`. */
const Bucket = class extends component("Bucket", ["name", "arn"], { notify: () => undefined }) {
  get nodes() {
    const { name } = (this as unknown as { record: Made }).record;
    return { bucket: { bucketRegionalDomainName: `${name}.bucketRegionalDomainName` } };
  }
};
/** Outputs as plain values or promises: `$resolve(...).apply(f)` answers a promise of f's result. */
const resolveStandIn = (values: unknown[]) => ({
  apply: (body: (values: unknown[]) => unknown) => Promise.all(values).then(body),
});
/** SST's Dynamo also answers its underlying table, whose stream the events come from. */
const Dynamo = class extends component("Dynamo", ["name", "arn"]) {
  get nodes() {
    const { name } = (this as unknown as { record: Made }).record;
    return { table: { streamArn: `${name}.streamArn` } };
  }
};
const globals = {
  sst: {
    Secret: component("Secret", ["value"]),
    aws: {
      Dynamo,
      Bus: component("Bus", ["name", "arn"]),
      Bucket,
      Function: component("Function", ["arn", "name"]),
      Queue: component("Queue", ["arn", "url"]),
      ApiGatewayV2: component("ApiGatewayV2", ["url"], { route: () => undefined }),
      Router: component("Router", ["url"]),
      StaticSite: component("StaticSite", ["url"]),
      CognitoUserPool: component("CognitoUserPool", ["id", "arn"], {
        addClient: (_self, name: string, args: Args) => new UserPoolClient(name, args),
      }),
    },
  },
  aws: {
    getRegionOutput: () => ({ region: "eu-west-1" }),
    lambda: { EventSourceMapping: component("EventSourceMapping", []) },
    cloudwatch: {
      EventConnection: component("EventConnection", ["arn"]),
      EventRule: component("EventRule", ["name", "arn"]),
      EventApiDestination: component("EventApiDestination", ["arn"]),
      EventTarget: component("EventTarget", []),
    },
    sqs: { QueuePolicy: component("QueuePolicy", []) },
    iam: { Role: component("IamRole", ["arn"]) },
    s3: {
      BucketServerSideEncryptionConfiguration: component("BucketServerSideEncryptionConfiguration", []),
      // SST's Bucket makes the bucket's one policy; a second would stop the deploy.
      BucketPolicy: component("BucketPolicy", []),
    },
    cloudfront: {
      PublicKey: component("CloudFrontPublicKey", ["id"]),
      KeyGroup: component("CloudFrontKeyGroup", ["id"]),
      OriginAccessControl: component("CloudFrontOriginAccessControl", ["id"]),
      CachePolicy: component("CloudFrontCachePolicy", ["id"]),
      ResponseHeadersPolicy: component("CloudFrontResponseHeadersPolicy", ["id"]),
      Distribution: component("CloudFrontDistribution", ["arn", "domainName"]),
    },
  },
  $cli: { paths: { root: join(import.meta.dirname, "..") } },
  $output: (value: unknown) => value,
  $resolve: resolveStandIn,
  $interpolate: (strings: TemplateStringsArray, ...values: unknown[]) => String.raw({ raw: strings }, ...values),
  $jsonStringify: (value: unknown) => JSON.stringify(value),
  $config: (config: unknown) => config,
};

const oneOf = (records: Made[], kind: string, name?: string) => {
  const found = records.filter((m) => m.kind === kind && (name === undefined || m.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0]!;
};

interface StackConfig {
  app(input: { stage: string }): Args;
  run(): Promise<Record<string, unknown>>;
}

interface StackRun {
  config: StackConfig;
  outputs: Record<string, unknown>;
  made: Made[];
  calls: Call[];
  one(kind: string, name?: string): Made;
}

/** The deploy's settings that every run starts from (each run may add its own). */
const DEPLOY_ENV = { CORS_ALLOWED_ORIGINS: "https://app.example.com, https://admin.example.com" };
const SETTING_NAMES = [
  "API_RESERVED_CONCURRENCY",
  "FINISH_UPLOAD_RESERVED_CONCURRENCY",
  "API_THROTTLE_RATE_LIMIT",
  "API_THROTTLE_BURST_LIMIT",
];

/**
 * Evaluates sst.config.ts and infra/ afresh for `stage`, with `env` as the deploy's environment;
 * `dev`: as `sst dev` evaluates it (SST's `$dev` global), else as `sst deploy`.
 */
async function runStack(stage: string, env: Record<string, string> = {}, { dev = false } = {}): Promise<StackRun> {
  made = [];
  calls = [];
  const saved = { ...process.env };
  for (const name of SETTING_NAMES) delete process.env[name];
  Object.assign(process.env, DEPLOY_ENV, env);
  Object.assign(globalThis, globals, { $app: { name: "images", stage }, $dev: dev });
  try {
    vi.resetModules();
    const file = pathToFileURL(join(import.meta.dirname, "../sst.config.ts")).href;
    const config = ((await import(file)) as { default: StackConfig }).default;
    const outputs = await config.run();
    const records = made;
    return { config, outputs, made: records, calls, one: (kind, name) => oneOf(records, kind, name) };
  } finally {
    process.env = saved;
  }
}

/** What a component's `transform.<part>` makes of SST's arguments for that part (here: none). */
const transformed = (component: Made, part: string): Args => {
  const args: Args = {};
  const transform = component.args.transform?.[part] as ((args: Args) => void) | undefined;
  expect(transform, `${component.name} transform.${part}`).toBeTypeOf("function");
  transform!(args);
  return args;
};

let dev: StackRun;
let config: StackConfig;
let outputs: Record<string, unknown>;
const one = (kind: string, name?: string) => dev.one(kind, name);
const instanceOf = (kind: string, name: string) => (value: unknown) =>
  (value as { record?: Made }).record === one(kind, name);

beforeAll(async () => {
  dev = await runStack("Alice_Dev");
  ({ config, outputs } = dev);
});

describe("the stack program", () => {
  it("declares the table from stackTableArgs, with 35 days of point-in-time recovery", () => {
    const table = one("Dynamo", "ImagesTable");
    expect(table.args).toMatchObject(stackTableArgs());
    expect(transformed(table, "table").pointInTimeRecovery).toEqual({ enabled: true, recoveryPeriodInDays: 35 });
  });

  it("keeps the bucket private and encrypted, with CORS for the configured origins and a day for abandoned uploads", () => {
    const bucket = one("Bucket", "ImagesBucket");
    expect(bucket.args.public).toBeUndefined(); // SST's default: public access blocked
    expect(bucket.args.cors).toMatchObject({
      allowOrigins: ["https://app.example.com", "https://admin.example.com"],
      allowMethods: expect.arrayContaining(["GET", "POST", "PUT"]),
    });
    // SST creates the lifecycle configuration only when it is given rules; the transform writes them in full.
    expect(bucket.args.lifecycle).toEqual([expect.objectContaining({ prefix: "uploads/", expiresIn: "1 day" })]);
    expect(transformed(bucket, "lifecycle").rules).toContainEqual(
      expect.objectContaining({
        id: "expire-abandoned-uploads",
        status: "Enabled",
        filter: { prefix: "uploads/" },
        expiration: { days: 1 },
      }),
    );
    expect(one("BucketServerSideEncryptionConfiguration").args).toEqual({
      bucket: "ImagesBucket.name",
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
  });

  it("runs both handlers on nodejs22.x arm64, linked to the secret alone, with sharp installed", () => {
    const sharp = (JSON.parse(readFileSync(join(import.meta.dirname, "../packages/core/package.json"), "utf8")) as Args)
      .dependencies.sharp;
    for (const [name, file] of [
      ["ApiFunction", "packages/api/src/handlers/api.ts"],
      ["FinishUploadFunction", "packages/api/src/handlers/finish-upload.ts"],
    ] as const) {
      const fn = one("Function", name);
      expect(fn.args).toMatchObject({ runtime: "nodejs22.x", architecture: "arm64", nodejs: { install: { sharp } } });
      if (name === "FinishUploadFunction") expect(fn.args.storage).toBe("1024 MB");
      // SST resolves the plugins file from the directory of sst.config.ts (infra/bundle.test.ts tests it).
      expect(existsSync(join(import.meta.dirname, "..", fn.args.nodejs.plugins as string))).toBe(true);
      expect(fn.args.handler).toBe(file.replace(/\.ts$/, ".handler"));
      expect(readFileSync(join(import.meta.dirname, "..", file), "utf8")).toMatch(
        /export (const|async function|function) handler\b/,
      );
      // A linked table or bucket would grant dynamodb:* or s3:* (SST's Dynamo and Bucket getSSTLink).
      const link = fn.args.link as unknown[];
      expect(link.some(instanceOf("Secret", "CursorSecret"))).toBe(true);
      // The API function signs rendition URLs with the media key; the finishing function signs none.
      if (name === "ApiFunction") {
        expect(link).toHaveLength(2);
        expect(link.some(instanceOf("Secret", "MediaPrivateKey"))).toBe(true);
      } else expect(link).toHaveLength(1);
    }
  });

  it("names the table and the bucket, and checks tokens against the user pool's issuer and keys and the client id", () => {
    const issuer = "https://cognito-idp.eu-west-1.amazonaws.com/Users.id";
    const environment = {
      TABLE_NAME: "ImagesTable.name",
      BUCKET_NAME: "ImagesBucket.name",
      AUTH_ISSUER: issuer,
      AUTH_JWKS_URL: `${issuer}/.well-known/jwks.json`,
      AUTH_AUDIENCE: "UsersClient.id",
      CORS_ALLOWED_ORIGINS: "https://app.example.com,https://admin.example.com",
    };
    expect(one("Function", "FinishUploadFunction").args.environment).toEqual(environment);
    // The API function also signs rendition URLs (checked under "rendition delivery").
    expect(one("Function", "ApiFunction").args.environment).toEqual({
      ...environment,
      MEDIA_BASE_URL: expect.any(String),
      MEDIA_KEY_PAIR_ID: expect.any(String),
    });
    const client: Args = {};
    one("CognitoUserPoolClient", "UsersClient").args.transform.client(client);
    expect(client.explicitAuthFlows).toContain("ALLOW_USER_PASSWORD_AUTH");
  });

  it("sends ObjectCreated under uploads/ to the finishing function, and every request to the API function", () => {
    expect(dev.calls.filter((call) => call.method === "notify")).toEqual([
      {
        on: "ImagesBucket",
        method: "notify",
        args: [
          {
            notifications: [
              {
                name: "FinishUpload",
                function: "FinishUploadFunction.arn",
                events: ["s3:ObjectCreated:*"],
                filterPrefix: "uploads/",
              },
            ],
          },
        ],
      },
    ]);
    expect(one("ApiGatewayV2").args).toEqual({ cors: false, transform: { stage: expect.any(Function) } });
    expect(dev.calls.filter((call) => call.method === "route")).toEqual([
      { on: "HttpApi", method: "route", args: ["$default", "ApiFunction.arn"] },
    ]);
  });

  it("outputs the API URL, the region and the user pool", () => {
    expect(outputs).toMatchObject({
      apiUrl: "HttpApi.url",
      region: "eu-west-1",
      userPoolId: "Users.id",
      userPoolClientId: "UsersClient.id",
    });
  });

  it("builds the gallery for the deployed API and the hosted login, which returns to the gallery", () => {
    const router = one("Router", "GalleryRouter");
    expect(router.args).toEqual({});
    const site = one("StaticSite", "Gallery");
    expect(site.args).toMatchObject({
      path: "packages/web",
      build: { command: "npm run build", output: "dist" },
      environment: {
        VITE_API_URL: "HttpApi.url",
        VITE_COGNITO_DOMAIN: "https://images-alice-dev.auth.eu-west-1.amazoncognito.com",
        VITE_COGNITO_CLIENT_ID: "UsersClient.id",
      },
    });
    expect(site.args.router.instance.record).toBe(router);
    expect(readFileSync(join(import.meta.dirname, "../packages/web/package.json"), "utf8")).toContain(
      '"build": "vite build"',
    );

    expect(one("CognitoUserPool", "Users").args.domain).toEqual({ prefix: "images-alice-dev" });
    const client = one("CognitoUserPoolClient", "UsersClient");
    expect(client.args.callbackUrls).toEqual(["GalleryRouter.url/"]);
    const clientArgs: Args = {};
    client.args.transform.client(clientArgs);
    expect(clientArgs).toMatchObject({ allowedOauthFlows: ["code"], logoutUrls: ["GalleryRouter.url/"] });
    expect(outputs).toMatchObject({
      galleryUrl: "GalleryRouter.url",
      authUrl: site.args.environment.VITE_COGNITO_DOMAIN,
    });
  });

  it("keeps and protects the production stage only", () => {
    expect(config.app({ stage: "production" })).toMatchObject({ removal: "retain", protect: true });
    expect(config.app({ stage: "alice" })).toMatchObject({ removal: "remove", protect: false });
  });
});

describe("least privilege", () => {
  const table = {
    actions: ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    resources: ["ImagesTable.arn"],
  };
  const bucket = { actions: ["s3:ListBucket"], resources: ["ImagesBucket.arn"] };

  it("grants each function exactly the actions its code calls, on the table, its indexes, the bucket, its objects and the failure queue", () => {
    expect(one("Function", "ApiFunction").args.permissions).toEqual([
      // POST /images/check reads digest items in batches.
      { ...table, actions: ["dynamodb:BatchGetItem", ...table.actions] },
      {
        actions: ["dynamodb:Query"],
        resources: Object.keys(stackTableArgs().globalIndexes).map((index) => `ImagesTable.arn/index/${index}`),
      },
      bucket,
      { actions: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], resources: ["ImagesBucket.arn/*"] },
    ]);
    // No listing, no presigning; parts of the re-encoded file, and its failed events to the queue.
    expect(one("Function", "FinishUploadFunction").args.permissions).toEqual([
      table,
      bucket,
      {
        actions: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        resources: ["ImagesBucket.arn/*"],
      },
      { actions: ["sqs:SendMessage"], resources: ["FinishUploadFailures.arn"] },
    ]);
  });

  it("grants no wildcard action, and nothing on any resource but the stack's own", () => {
    const ours =
      /^(ImagesTable\.(arn(\/index\/gsi\d+)?|streamArn)|ImagesBucket\.arn(\/\*)?|(FinishUpload|TableStream)Failures\.arn|ImageEvents\.arn)$/;
    for (const name of ["ApiFunction", "FinishUploadFunction", "TableStreamFunction"]) {
      const statements = one("Function", name).args.permissions as { actions: string[]; resources: string[] }[];
      expect(statements.length).toBeGreaterThan(0);
      for (const { actions, resources } of statements) {
        for (const action of actions) expect(action, name).toMatch(/^(dynamodb|s3|sqs|events):[A-Za-z]+$/);
        for (const resource of resources) expect(resource, name).toMatch(ours);
      }
      expect(one("Function", name).args.policies, name).toBeUndefined();
    }
  });

  it("reserves concurrency for each function and throttles the API at its stage, within the deploy's settings", async () => {
    expect(one("Function", "ApiFunction").args.concurrency).toEqual({ reserved: 100 });
    expect(one("Function", "FinishUploadFunction").args.concurrency).toEqual({ reserved: 20 });
    expect(transformed(one("ApiGatewayV2", "HttpApi"), "stage").defaultRouteSettings).toEqual({
      throttlingRateLimit: 200,
      throttlingBurstLimit: 400,
    });

    const tuned = await runStack("Alice_Dev", {
      API_RESERVED_CONCURRENCY: "none",
      FINISH_UPLOAD_RESERVED_CONCURRENCY: "5",
      API_THROTTLE_RATE_LIMIT: "50",
      API_THROTTLE_BURST_LIMIT: "80",
    });
    expect(tuned.one("Function", "ApiFunction").args.concurrency).toEqual({ reserved: undefined });
    expect(tuned.one("Function", "FinishUploadFunction").args.concurrency).toEqual({ reserved: 5 });
    expect(transformed(tuned.one("ApiGatewayV2", "HttpApi"), "stage").defaultRouteSettings).toEqual({
      throttlingRateLimit: 50,
      throttlingBurstLimit: 80,
    });

    // 0 would stop the function altogether; a typo must not deploy at all.
    await expect(runStack("Alice_Dev", { FINISH_UPLOAD_RESERVED_CONCURRENCY: "0" })).rejects.toThrow(
      /FINISH_UPLOAD_RESERVED_CONCURRENCY=0/,
    );
    await expect(runStack("Alice_Dev", { API_THROTTLE_RATE_LIMIT: "none" })).rejects.toThrow(
      /API_THROTTLE_RATE_LIMIT=none/,
    );
  });

  it("lets only an operator create users (no self sign-up)", () => {
    expect(transformed(one("CognitoUserPool", "Users"), "userPool").adminCreateUserConfig).toEqual({
      allowAdminCreateUserOnly: true,
    });
  });

  it("protects the production table and user pool from deletion, and no other stage's", async () => {
    expect(transformed(one("Dynamo", "ImagesTable"), "table").deletionProtectionEnabled).toBe(false);
    expect(transformed(one("CognitoUserPool", "Users"), "userPool").deletionProtection).toBe("INACTIVE");
    const production = await runStack("production");
    expect(transformed(production.one("Dynamo", "ImagesTable"), "table").deletionProtectionEnabled).toBe(true);
    expect(transformed(production.one("CognitoUserPool", "Users"), "userPool").deletionProtection).toBe("ACTIVE");
  });
});

describe("when finishing fails", () => {
  it("sends the finishing function's events, once Lambda gives up on them, to a queue that keeps them 14 days", () => {
    const finish = one("Function", "FinishUploadFunction");
    expect(finish.args.retries).toBe(2);
    expect(transformed(finish, "eventInvokeConfig")).toEqual({
      maximumEventAgeInSeconds: 3600,
      destinationConfig: { onFailure: { destination: "FinishUploadFailures.arn" } },
    });
    const queue = one("Queue", "FinishUploadFailures");
    expect(transformed(queue, "queue")).toEqual({ messageRetentionSeconds: 14 * 24 * 3600 });
    // The API function is invoked synchronously: its caller sees its errors.
    expect(one("Function", "ApiFunction").args.retries).toBeUndefined();
  });

  it("outputs where the failures are and which function replays them", () => {
    expect(outputs).toMatchObject({
      finishUploadFailuresQueueUrl: "FinishUploadFailures.url",
      finishUploadFunctionName: "FinishUploadFunction.name",
    });
  });
});

describe("the bucket's versions", () => {
  it("keeps deleted and overwritten bytes as long as the table can be restored, and those under uploads/ a day", () => {
    const bucket = one("Bucket", "ImagesBucket");
    expect(bucket.args.versioning).toBe(true);
    const rules = transformed(bucket, "lifecycle").rules as Args[];
    const recoveryDays = transformed(one("Dynamo", "ImagesTable"), "table").pointInTimeRecovery.recoveryPeriodInDays;
    expect(rules).toEqual([
      {
        id: "expire-abandoned-uploads",
        status: "Enabled",
        filter: { prefix: PENDING_UPLOAD_PREFIX },
        expiration: { days: 1 },
        noncurrentVersionExpiration: { noncurrentDays: 1 },
      },
      {
        id: "keep-deleted-bytes-for-recovery",
        status: "Enabled",
        filter: {},
        noncurrentVersionExpiration: { noncurrentDays: recoveryDays },
        expiration: { expiredObjectDeleteMarker: true },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      },
    ]);
    expect(recoveryDays).toBe(35);
  });

  it("lifecycles and finishes the prefix that the code posts large uploads under", () => {
    expect(PENDING_UPLOAD_PREFIX).toBe("uploads/");
    // Behind the hash level too: the filter and the rule match on the folder alone.
    expect(objectKeys.pendingUpload("img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4")).toMatch(/^uploads\/[0-9a-f]{2}\/img_/);
    const notify = dev.calls.find((call) => call.method === "notify")!.args[0] as Args;
    expect(notify.notifications[0].filterPrefix).toBe(PENDING_UPLOAD_PREFIX);
  });
});

describe("rendition delivery through CloudFront", () => {
  const distribution = () => one("CloudFrontDistribution", "MediaDistribution");

  it("answers only URLs signed by the stack's key group, over HTTPS, compressed", () => {
    const behavior = distribution().args.defaultCacheBehavior as Args;
    const keyGroup = one("CloudFrontKeyGroup", "MediaKeyGroup");
    expect(behavior.trustedKeyGroups).toEqual(["MediaKeyGroup.id"]);
    expect(keyGroup.args.items).toEqual(["MediaPublicKey.id"]);
    expect(behavior).toMatchObject({
      targetOriginId: (distribution().args.origins as Args[])[0]!.originId,
      viewerProtocolPolicy: "redirect-to-https",
      allowedMethods: ["GET", "HEAD"],
      compress: true,
      cachePolicyId: "MediaCachePolicy.id",
      responseHeadersPolicyId: "MediaResponseHeadersPolicy.id",
    });
    // Every path goes through that behaviour: no other one could serve unsigned.
    expect(distribution().args.orderedCacheBehaviors).toBeUndefined();
    expect(distribution().args.enabled).toBe(true);
  });

  it("keys its cache on the path alone, so every signed URL of an object shares one copy, kept as the object says", () => {
    const policy = one("CloudFrontCachePolicy", "MediaCachePolicy").args;
    const parameters = policy.parametersInCacheKeyAndForwardedToOrigin as Args;
    expect(parameters.queryStringsConfig).toEqual({ queryStringBehavior: "none" });
    expect(parameters.headersConfig).toEqual({ headerBehavior: "none" });
    expect(parameters.cookiesConfig).toEqual({ cookieBehavior: "none" });
    // min 0: the objects' Cache-Control (max-age=31536000, immutable) decides, up to a year.
    expect(policy).toMatchObject({ minTtl: 0, defaultTtl: 31_536_000, maxTtl: 31_536_000 });
    expect(one("CloudFrontResponseHeadersPolicy").args.securityHeadersConfig.contentTypeOptions).toEqual({
      override: true,
    });
  });

  it("reads the private bucket through Origin Access Control, not as a public or website origin", () => {
    const origins = distribution().args.origins as Args[];
    expect(origins).toEqual([
      {
        originId: expect.any(String),
        domainName: "ImagesBucket.bucketRegionalDomainName",
        originAccessControlId: "MediaOriginAccessControl.id",
      },
    ]);
    expect(one("CloudFrontOriginAccessControl").args).toMatchObject({
      originAccessControlOriginType: "s3",
      signingBehavior: "always",
      signingProtocol: "sigv4",
    });
    const bucket = one("Bucket", "ImagesBucket");
    expect(bucket.args.access).toBeUndefined();
    expect(bucket.args.public).toBeUndefined();
    expect(bucket.args.transform.publicAccessBlock).toBeUndefined();
  });

  it("lets CloudFront get renditions/* for this distribution alone, and nothing else, by the bucket's one policy", async () => {
    // SST writes the bucket's policy (its refusal of plain HTTP); the transform adds to it.
    const sst = { Version: "2012-10-17", Statement: [{ Effect: "Deny", Action: "s3:*", Principal: "*" }] };
    const args: Args = { bucket: "images-bucket-abc", policy: JSON.stringify(sst) };
    one("Bucket", "ImagesBucket").args.transform.policy(args);
    const policy = JSON.parse((await args.policy) as string) as { Statement: Args[] };
    expect(policy.Statement[0]).toEqual(sst.Statement[0]);
    expect(policy.Statement.filter((statement) => statement.Effect !== "Deny")).toEqual([
      {
        Sid: expect.any(String),
        Effect: "Allow",
        Principal: { Service: "cloudfront.amazonaws.com" },
        Action: "s3:GetObject",
        Resource: "arn:aws:s3:::images-bucket-abc/renditions/*",
        Condition: { StringEquals: { "AWS:SourceArn": "MediaDistribution.arn" } },
      },
    ]);
    expect(policy.Statement).toHaveLength(2);
    expect(dev.made.filter((m) => m.kind === "BucketPolicy")).toEqual([]);
  });

  it("serves the keys the code writes renditions under", () => {
    expect(objectKeys.rendition("img", 320).startsWith("renditions/")).toBe(true);
    expect(objectKeys.rendition("img", 320, "v2").startsWith("renditions/")).toBe(true);
    // The hash level sits inside the folder: the policy's renditions/* still names every rendition.
    expect(objectKeys.rendition("img", 320)).toMatch(/^renditions\/[0-9a-f]{2}\/img\/320\.webp$/);
  });

  it("trusts the committed public key, whose private half is the MediaPrivateKey secret", () => {
    const pem = readFileSync(join(import.meta.dirname, "media-public-key.pem"), "utf8");
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
    expect(one("CloudFrontPublicKey", "MediaPublicKey").args.encodedKey).toBe(pem);
    expect(one("Secret", "MediaPrivateKey").args).toEqual({});
  });

  it("tells the API function where the renditions are served and which key pair signs them, and outputs mediaUrl", () => {
    expect(one("Function", "ApiFunction").args.environment).toMatchObject({
      MEDIA_BASE_URL: "https://MediaDistribution.domainName",
      MEDIA_KEY_PAIR_ID: "MediaPublicKey.id",
    });
    expect(one("Function", "ApiFunction").args.link.some(instanceOf("Secret", "MediaPrivateKey"))).toBe(true);
    expect(one("Function", "FinishUploadFunction").args.environment.MEDIA_KEY_PAIR_ID).toBeUndefined();
    expect(outputs.mediaUrl).toBe("https://MediaDistribution.domainName");
  });
});

/**
 * `npx sst dev` evaluates the same program with `$dev` true. SST then deploys each function as a
 * bridge (.sst/platform/src/components/aws/function.ts, dev mode) with the function's own
 * environment, role and triggers, and runs the real handler on this machine: the bridge sends
 * its Lambda environment (less LAMBDA_TASK_ROOT, PATH and a few more: functions/bridge/bridge.go)
 * and the CLI starts Node in the function's dev build directory, .sst/artifacts/<name>-dev, where
 * it has written resource.enc (the links) and linked node_modules. The static site is not
 * deployed: its dev command runs here instead.
 */
describe("under sst dev", () => {
  let live: StackRun;
  beforeAll(async () => {
    live = await runStack("alice", {}, { dev: true });
  });

  it("runs both functions live, with the environment, links, role and triggers they have deployed", () => {
    const local = { CORS_ALLOWED_ORIGINS: expect.any(String) };
    for (const name of ["ApiFunction", "FinishUploadFunction"]) {
      const deployed = one("Function", name).args;
      const fn = live.one("Function", name).args;
      // SST runs a function live unless `dev` (or the older `live`) is false.
      expect(fn.dev, name).toBeUndefined();
      expect(fn.live, name).toBeUndefined();
      expect(fn.handler).toBe(deployed.handler);
      expect(fn.link).toHaveLength((deployed.link as unknown[]).length);
      expect(fn.permissions).toEqual(deployed.permissions);
      expect({ ...fn.environment, ...local }).toEqual({ ...deployed.environment, ...local });
      // Bundled by SST's esbuild with the same plugins; `install` only matters to a deploy.
      expect(fn.nodejs).toEqual(deployed.nodejs);
    }
    const mediaKey = live.one("Secret", "MediaPrivateKey");
    expect(
      live.one("Function", "ApiFunction").args.link.some((item: { record?: Made }) => item.record === mediaKey),
    ).toBe(true);
    // The bucket's events go to the finishing function's ARN, which in dev is its bridge.
    const notify = (run: StackRun) => run.calls.filter((call) => call.method === "notify");
    expect(notify(live)).toEqual(notify(dev));
    expect(transformed(live.one("Function", "FinishUploadFunction"), "eventInvokeConfig")).toEqual(
      transformed(one("Function", "FinishUploadFunction"), "eventInvokeConfig"),
    );
    expect(live.calls.filter((call) => call.method === "route")).toEqual([
      { on: "HttpApi", method: "route", args: ["$default", "ApiFunction.arn"] },
    ]);
  });

  it("serves the gallery from Vite on this machine, which Cognito returns to and the API and the bucket allow", () => {
    const site = live.one("StaticSite", "Gallery").args;
    expect(site.dev).toEqual({
      title: "Gallery",
      command: "npm run dev -- --port 5173 --strictPort",
      url: "http://localhost:5173",
    });
    // SST runs the command in the site's path, with its environment: the stage's API and login.
    expect(site.path).toBe("packages/web");
    expect(site.environment).toEqual({
      VITE_API_URL: "HttpApi.url",
      VITE_COGNITO_DOMAIN: "https://images-alice.auth.eu-west-1.amazoncognito.com",
      VITE_COGNITO_CLIENT_ID: "UsersClient.id",
    });
    const web = JSON.parse(readFileSync(join(import.meta.dirname, "../packages/web/package.json"), "utf8")) as Args;
    expect(web.scripts.dev).toBe("vite");
    // Cognito takes plain HTTP for localhost alone.
    const client = live.one("CognitoUserPoolClient", "UsersClient");
    expect(client.args.callbackUrls).toEqual(["http://localhost:5173/"]);
    const clientArgs: Args = {};
    client.args.transform.client(clientArgs);
    expect(clientArgs.logoutUrls).toEqual(["http://localhost:5173/"]);
    expect(live.outputs.galleryUrl).toBe("http://localhost:5173");

    const origins = ["https://app.example.com", "https://admin.example.com", "http://localhost:5173"];
    for (const name of ["ApiFunction", "FinishUploadFunction"]) {
      expect(live.one("Function", name).args.environment.CORS_ALLOWED_ORIGINS).toBe(origins.join(","));
    }
    expect(live.one("Bucket", "ImagesBucket").args.cors.allowOrigins).toEqual(origins);
    // A deploy allows only what CORS_ALLOWED_ORIGINS names.
    expect(one("Bucket", "ImagesBucket").args.cors.allowOrigins).not.toContain("http://localhost:5173");
  });

  it("adds the local gallery's origin once, and alone when CORS_ALLOWED_ORIGINS is empty", async () => {
    const named = await runStack("alice", { CORS_ALLOWED_ORIGINS: "http://localhost:5173" }, { dev: true });
    expect(named.one("Bucket", "ImagesBucket").args.cors.allowOrigins).toEqual(["http://localhost:5173"]);
    const empty = await runStack("alice", { CORS_ALLOWED_ORIGINS: "" }, { dev: true });
    expect(empty.one("Function", "ApiFunction").args.environment.CORS_ALLOWED_ORIGINS).toBe("http://localhost:5173");
  });

  /** Stand-in outputs as AWS would fill them in. */
  const DEPLOYED_VALUES: Record<string, string> = {
    "ImagesTable.name": "images-alice-imagestabletable-abcdefgh",
    "ImagesBucket.name": "images-alice-imagesbucketbucket-abcdefgh",
    "UsersClient.id": "4a5b6c7d8e9f0a1b2c3d4e5f6g",
    "Users.id": "eu-west-1_AbCdEfGhI",
    "MediaDistribution.domainName": "d111111abcdef8.cloudfront.net",
    "MediaPublicKey.id": "K2JCJMDEHXQW5F",
  };
  const ROOT = join(import.meta.dirname, "..");

  /**
   * Runs, in a child Node process as `sst dev` starts one, a script that loads the function's
   * configuration (packages/core/src/config.ts), sharp and the path of Scalar's script, and prints
   * what it found. `links` are what SST encrypts into resource.enc.
   */
  function runAsSstDev(name: string, links: Record<string, unknown>) {
    const declared = live.one("Function", name).args;
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries(declared.environment as Record<string, string>)) {
      expect(value, key).toBeTypeOf("string");
      environment[key] = Object.entries(DEPLOYED_VALUES).reduce((text, [from, to]) => text.replaceAll(from, to), value);
    }
    const key = randomBytes(32);
    // Like .sst/artifacts/<name>-dev: inside the checkout, node_modules linked as SST links it
    // (the first one found up from the handler's file).
    mkdirSync(join(ROOT, ".sst"), { recursive: true });
    const out = mkdtempSync(join(ROOT, ".sst", "artifacts-devcheck-"));
    onTestFinished(() => rmSync(out, { recursive: true, force: true }));
    let modules = dirname(join(ROOT, declared.handler as string));
    while (!existsSync(join(modules, "node_modules"))) modules = dirname(modules);
    symlinkSync(join(modules, "node_modules"), join(out, "node_modules"));
    // SST's encryption of the links (pkg/runtime/runtime.go): AES-256-GCM, a zero nonce, the tag last.
    const cipher = createCipheriv("aes-256-gcm", key, Buffer.alloc(12));
    const sealed = Buffer.concat([cipher.update(JSON.stringify(links)), cipher.final(), cipher.getAuthTag()]);
    writeFileSync(join(out, "resource.enc"), sealed);
    writeFileSync(join(out, "check.mjs"), DEV_CHECK_SCRIPT);
    const env = {
      ...environment,
      // What SST's Function adds (normalizeEnvironment; the SST_* of dev mode for the bridge).
      SST_RESOURCE_App: JSON.stringify({ name: "images", stage: "alice" }),
      SST_KEY: key.toString("base64"),
      SST_KEY_FILE: "resource.enc",
      SST_REGION: "eu-west-1",
      SST_FUNCTION_ID: name,
      SST_APP: "images",
      SST_STAGE: "alice",
      // What Lambda sets in the bridge, which passes it on: its role's session among them.
      AWS_LAMBDA_FUNCTION_NAME: `images-alice-${name}Function-abcdef`,
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_REGION: "eu-west-1",
      AWS_DEFAULT_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "ASIAEXAMPLEEXAMPLE00",
      AWS_SECRET_ACCESS_KEY: "example/secret/access/key/example0000000",
      AWS_SESSION_TOKEN: "example-session-token",
      TZ: ":UTC",
      // What the CLI adds for the worker (pkg/runtime/runtime.go, node/node.go).
      SST_LIVE: "true",
      SST_DEV: "true",
      NODE_OPTIONS: "",
      AWS_LAMBDA_RUNTIME_API: "localhost:13557/lambda/worker",
    };
    const loader = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
    const output = execFileSync(
      process.execPath,
      [
        "--import",
        loader,
        join(out, "check.mjs"),
        pathToFileURL(join(ROOT, "packages/core/src/config.ts")).href,
        pathToFileURL(join(ROOT, "packages/api/src/docs-script.ts")).href,
      ],
      { cwd: out, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return JSON.parse(output.trim().split("\n").at(-1)!) as Args;
  }

  it("gives the API function, run locally, its configuration: names, Cognito, the linked secrets through Resource, no emulator", () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIEexample\n-----END PRIVATE KEY-----\n";
    const found = runAsSstDev("ApiFunction", {
      CursorSecret: { type: "sst.sst.Secret", value: "a-cursor-secret-of-at-least-32-characters" },
      MediaPrivateKey: { type: "sst.sst.Secret", value: pem },
    });
    const issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI";
    expect(found.config).toEqual({
      tableName: DEPLOYED_VALUES["ImagesTable.name"],
      bucketName: DEPLOYED_VALUES["ImagesBucket.name"],
      region: "eu-west-1",
      // In AWS's endpoints with the role's session (the SDK's environment provider), not an emulator's keys.
      dynamoEndpoint: null,
      s3Endpoint: null,
      credentials: null,
      localEndpointsOnly: false,
      cursorSecret: "a-cursor-secret-of-at-least-32-characters",
      // AWS_LAMBDA_FUNCTION_NAME is passed on: development tokens are refused, as deployed.
      auth: {
        kind: "jwks",
        jwksUrl: `${issuer}/.well-known/jwks.json`,
        issuer,
        audience: DEPLOYED_VALUES["UsersClient.id"],
      },
      inLambda: true,
      media: {
        baseUrl: "https://d111111abcdef8.cloudfront.net",
        keyPairId: "K2JCJMDEHXQW5F",
        privateKeyPem: pem,
        windowSeconds: 3600,
      },
      corsAllowedOrigins: ["https://app.example.com", "https://admin.example.com", "http://localhost:5173"],
    });
    // sharp is the one installed for this machine (nodejs.install applies to deploys alone).
    expect(found.sharp.format).toBe("webp");
    expect(found.sharp.resolved.startsWith(join(ROOT, "node_modules"))).toBe(true);
    // No LAMBDA_TASK_ROOT: /docs reads Scalar's script from node_modules, where the bundle finds it.
    expect(found.scalar.candidates).toEqual([found.scalar.fromBundle]);
    expect(existsSync(found.scalar.fromBundle as string)).toBe(true);
  });

  it("gives the finishing function its configuration, the cursor secret its one link", () => {
    const found = runAsSstDev("FinishUploadFunction", {
      CursorSecret: { type: "sst.sst.Secret", value: "a-cursor-secret-of-at-least-32-characters" },
    });
    expect(found.config).toMatchObject({
      tableName: DEPLOYED_VALUES["ImagesTable.name"],
      cursorSecret: "a-cursor-secret-of-at-least-32-characters",
      auth: { kind: "jwks" },
      inLambda: true,
      media: null,
    });
  });

  it("refuses to start a function whose cursor secret is not linked, naming it", () => {
    expect(() => runAsSstDev("FinishUploadFunction", {})).toThrow(/CURSOR_SECRET is required when running in Lambda/);
  });
});

/** What check.mjs prints, as one JSON line (undefined as null). */
const DEV_CHECK_SCRIPT = `
import { createRequire } from "node:module";
const [configUrl, docsUrl] = process.argv.slice(2);
const { loadConfig } = await import(configUrl);
const { scalarScriptCandidates, installedScalarScript } = await import(docsUrl);
const c = loadConfig();
const { default: sharp } = await import("sharp");
const webp = await sharp({ create: { width: 2, height: 2, channels: 3, background: "#336699" } }).webp().toBuffer();
const meta = await sharp(webp).metadata();
const n = (value) => value ?? null;
console.log(JSON.stringify({
  config: {
    tableName: c.tableName, bucketName: c.bucketName, region: c.region,
    dynamoEndpoint: n(c.dynamoEndpoint), s3Endpoint: n(c.s3Endpoint), credentials: n(c.credentials),
    localEndpointsOnly: c.localEndpointsOnly, cursorSecret: c.cursorSecret, auth: c.auth,
    inLambda: process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined,
    media: n(c.media), corsAllowedOrigins: c.corsAllowedOrigins,
  },
  sharp: { format: meta.format, resolved: createRequire(import.meta.url).resolve("sharp") },
  scalar: { candidates: scalarScriptCandidates(), fromBundle: installedScalarScript(import.meta.url) },
}));
`;

describe("image events", () => {
  const WEBHOOKS = { WEBHOOK_ENDPOINTS: "https://hooks.example.com/images, https://other.example.org/in" };
  let hooked: StackRun;
  beforeAll(async () => {
    hooked = await runStack("Alice_Dev", WEBHOOKS);
  });

  it("streams every change of the table with the item before and after", () => {
    expect(one("Dynamo", "ImagesTable").args.stream).toBe("new-and-old-images");
  });

  it("feeds the stream to its function from the oldest record, bisecting, naming failed records, then to a queue", () => {
    const mapping = one("EventSourceMapping", "TableStreamMapping").args;
    expect(mapping).toEqual({
      eventSourceArn: "ImagesTable.streamArn",
      functionName: "TableStreamFunction.arn",
      startingPosition: "TRIM_HORIZON",
      batchSize: 100,
      maximumBatchingWindowInSeconds: 1,
      bisectBatchOnFunctionError: true,
      functionResponseTypes: ["ReportBatchItemFailures"],
      maximumRetryAttempts: 10,
      maximumRecordAgeInSeconds: 86_400,
      destinationConfig: { onFailure: { destinationArn: "TableStreamFailures.arn" } },
    });
    expect(transformed(one("Queue", "TableStreamFailures"), "queue")).toEqual({
      messageRetentionSeconds: 14 * 24 * 3600,
    });
    const file = "packages/api/src/handlers/table-stream.ts";
    const fn = one("Function", "TableStreamFunction").args;
    expect(fn.handler).toBe(file.replace(/\.ts$/, ".handler"));
    expect(readFileSync(join(import.meta.dirname, "..", file), "utf8")).toMatch(/export async function handler\b/);
    expect(fn).toMatchObject({ runtime: "nodejs22.x", architecture: "arm64" });
    expect(fn.environment).toEqual({
      ...one("Function", "FinishUploadFunction").args.environment,
      EVENT_BUS_NAME: "ImageEvents.name",
    });
    expect(outputs).toMatchObject({
      eventBusName: "ImageEvents.name",
      tableStreamFailuresQueueUrl: "TableStreamFailures.url",
    });
  });

  it("grants the stream function exactly what it and Lambda call for it: the stream, the bus, a Query, an image's read, tag deletes, object deletes, the queue", () => {
    expect(one("Function", "TableStreamFunction").args.permissions).toEqual([
      { actions: ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query"], resources: ["ImagesTable.arn"] },
      { actions: ["s3:DeleteObject"], resources: ["ImagesBucket.arn/*"] },
      { actions: ["sqs:SendMessage"], resources: ["TableStreamFailures.arn"] },
      {
        actions: [
          "dynamodb:DescribeStream",
          "dynamodb:GetRecords",
          "dynamodb:GetShardIterator",
          "dynamodb:ListStreams",
        ],
        resources: ["ImagesTable.streamArn"],
      },
      { actions: ["events:PutEvents"], resources: ["ImageEvents.arn"] },
    ]);
    expect(one("Function", "TableStreamFunction").args.link).toHaveLength(1);
  });

  it("declares the bus, and no webhook when WEBHOOK_ENDPOINTS names none", () => {
    expect(one("Bus", "ImageEvents").args).toEqual({});
    expect(dev.made.filter((m) => m.kind.startsWith("Event") && m.kind !== "EventSourceMapping")).toEqual([]);
    expect(dev.made.filter((m) => m.kind === "Secret" && m.name === "WebhookSecret")).toEqual([]);
  });

  it("delivers every image event to each configured endpoint by an API destination, signed, with retries and a queue", () => {
    const rule = hooked.one("EventRule", "WebhookRule").args;
    expect(rule.eventBusName).toBe("ImageEvents.name");
    expect(JSON.parse(rule.eventPattern as string)).toEqual({
      source: ["images"],
      "detail-type": [
        "image.ready",
        "image.failed",
        "image.updated",
        "image.trashed",
        "image.restored",
        "image.deleted",
      ],
    });
    expect(hooked.made.filter((m) => m.kind === "EventApiDestination").map((m) => m.args)).toEqual([
      {
        connectionArn: "WebhookConnection.arn",
        httpMethod: "POST",
        invocationEndpoint: "https://hooks.example.com/images",
        invocationRateLimitPerSecond: 50,
      },
      {
        connectionArn: "WebhookConnection.arn",
        httpMethod: "POST",
        invocationEndpoint: "https://other.example.org/in",
        invocationRateLimitPerSecond: 50,
      },
    ]);
    const targets = hooked.made.filter((m) => m.kind === "EventTarget");
    expect(targets.map((t) => t.args.arn)).toEqual(["Webhook0.arn", "Webhook1.arn"]);
    for (const target of targets) {
      expect(target.args).toEqual({
        rule: "WebhookRule.name",
        eventBusName: "ImageEvents.name",
        arn: expect.any(String),
        roleArn: "WebhookInvokeRole.arn",
        // The body is the event as the stream function signed it; the headers come from beside it.
        inputPath: "$.detail.event",
        httpTarget: {
          headerParameters: {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "webhook-id": "$.detail.webhook.id",
            "webhook-timestamp": "$.detail.webhook.timestamp",
            "webhook-signature": "$.detail.webhook.signature",
          },
        },
        retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 },
        deadLetterConfig: { arn: "WebhookFailures.arn" },
      });
    }
    // The role may invoke these destinations and nothing else; the queue takes only this rule's.
    const role = hooked.one("IamRole", "WebhookInvokeRole").args;
    expect(JSON.parse(role.assumeRolePolicy as string).Statement).toEqual([
      { Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
    expect(JSON.parse(role.inlinePolicies[0].policy as string).Statement).toEqual([
      { Effect: "Allow", Action: "events:InvokeApiDestination", Resource: ["Webhook0.arn", "Webhook1.arn"] },
    ]);
    const policy = JSON.parse(hooked.one("QueuePolicy", "WebhookFailuresPolicy").args.policy as string);
    expect(policy.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: "WebhookFailures.arn",
        Condition: { ArnEquals: { "aws:SourceArn": "WebhookRule.arn" } },
      },
    ]);
    // The signing key reaches the stream function by link, as packages/core/src/config.ts reads it.
    const secret = hooked.one("Secret", "WebhookSecret");
    expect(
      hooked.one("Function", "TableStreamFunction").args.link.some((item: { record?: Made }) => item.record === secret),
    ).toBe(true);
    expect(hooked.outputs).toMatchObject({ webhookFailuresQueueUrl: "WebhookFailures.url" });
  });

  it("refuses a webhook endpoint that is not an https URL, naming it", async () => {
    await expect(runStack("Alice_Dev", { WEBHOOK_ENDPOINTS: "http://plain.example.com/hook" })).rejects.toThrow(
      /WEBHOOK_ENDPOINTS: http:\/\/plain\.example\.com\/hook/,
    );
  });

  it("names the bus source and event types as the code does", async () => {
    const { BUS_SOURCE } = await import("../packages/core/src/events/event-bus.ts");
    const { IMAGE_EVENT_TYPES } = await import("../packages/core/src/events/image-events.ts");
    const rule = JSON.parse(hooked.one("EventRule", "WebhookRule").args.eventPattern as string);
    expect(rule).toEqual({ source: [BUS_SOURCE], "detail-type": [...IMAGE_EVENT_TYPES] });
  });
});
