import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
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
const made: Made[] = [];
const calls: { on: string; method: string; args: unknown[] }[] = [];

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
const globals = {
  sst: {
    Secret: component("Secret", ["value"]),
    aws: {
      Dynamo: component("Dynamo", ["name", "arn"]),
      Bucket: component("Bucket", ["name", "arn"], { notify: () => undefined }),
      Function: component("Function", ["arn", "name"]),
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
    s3: { BucketServerSideEncryptionConfiguration: component("BucketServerSideEncryptionConfiguration", []) },
  },
  $interpolate: (strings: TemplateStringsArray, ...values: unknown[]) => String.raw({ raw: strings }, ...values),
  $config: (config: unknown) => config,
  $app: { name: "images", stage: "Alice_Dev" },
};

const one = (kind: string, name?: string) => {
  const found = made.filter((m) => m.kind === kind && (name === undefined || m.name === name));
  expect(found, `${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0]!;
};
const instanceOf = (kind: string, name: string) => (value: unknown) =>
  (value as { record?: Made }).record === one(kind, name);

interface StackConfig {
  app(input: { stage: string }): Args;
  run(): Promise<Record<string, unknown>>;
}
let config: StackConfig;
let outputs: Record<string, unknown>;

beforeAll(async () => {
  Object.assign(globalThis, globals);
  process.env.CORS_ALLOWED_ORIGINS = "https://app.example.com, https://admin.example.com";
  const file = pathToFileURL(join(import.meta.dirname, "../sst.config.ts")).href;
  config = ((await import(file)) as { default: StackConfig }).default;
  outputs = await config.run();
});

describe("the stack program", () => {
  it("declares the table from stackTableArgs, with point-in-time recovery", () => {
    const table = one("Dynamo", "ImagesTable");
    expect(table.args).toMatchObject(stackTableArgs());
    const tableArgs: Args = {};
    table.args.transform.table(tableArgs);
    expect(tableArgs.pointInTimeRecovery).toEqual({ enabled: true });
  });

  it("keeps the bucket private and encrypted, with CORS for the configured origins and a day for abandoned uploads", () => {
    const bucket = one("Bucket", "ImagesBucket");
    expect(bucket.args.public).toBeUndefined(); // SST's default: public access blocked
    expect(bucket.args.cors).toMatchObject({
      allowOrigins: ["https://app.example.com", "https://admin.example.com"],
      allowMethods: expect.arrayContaining(["GET", "POST", "PUT"]),
    });
    expect(bucket.args.lifecycle).toEqual([expect.objectContaining({ prefix: "uploads/", expiresIn: "1 day" })]);
    expect(one("BucketServerSideEncryptionConfiguration").args).toEqual({
      bucket: "ImagesBucket.name",
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
  });

  it("runs both handlers on nodejs22.x arm64, linked to the table, the bucket and the secret, with sharp installed", () => {
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
      const link = fn.args.link as unknown[];
      expect(link.some(instanceOf("Dynamo", "ImagesTable"))).toBe(true);
      expect(link.some(instanceOf("Bucket", "ImagesBucket"))).toBe(true);
      expect(link.some(instanceOf("Secret", "CursorSecret"))).toBe(true);
    }
  });

  it("checks tokens against the user pool's issuer and keys and the client id", () => {
    const issuer = "https://cognito-idp.eu-west-1.amazonaws.com/Users.id";
    for (const name of ["ApiFunction", "FinishUploadFunction"]) {
      expect(one("Function", name).args.environment).toEqual({
        AUTH_ISSUER: issuer,
        AUTH_JWKS_URL: `${issuer}/.well-known/jwks.json`,
        AUTH_AUDIENCE: "UsersClient.id",
        CORS_ALLOWED_ORIGINS: "https://app.example.com,https://admin.example.com",
      });
    }
    const client: Args = {};
    one("CognitoUserPoolClient", "UsersClient").args.transform.client(client);
    expect(client.explicitAuthFlows).toContain("ALLOW_USER_PASSWORD_AUTH");
  });

  it("sends ObjectCreated under uploads/ to the finishing function, and every request to the API function", () => {
    expect(calls.filter((call) => call.method === "notify")).toEqual([
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
    expect(one("ApiGatewayV2").args).toEqual({ cors: false });
    expect(calls.filter((call) => call.method === "route")).toEqual([
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
