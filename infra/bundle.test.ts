import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build, type Metafile } from "esbuild";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signDevelopmentToken } from "../packages/api/src/development-token.ts";
import { createAwsClients, createImageStore, loadConfig } from "../packages/core/src/index.ts";
import { startLocalAws } from "../packages/local/src/index.ts";
import { deployedBuildOptions } from "./bundle/build-options.mjs";

/**
 * The deployed functions are built with infra/bundle/plugins.mjs (infra/api.ts). Each plugin
 * must still find what it targets in the library versions installed, and the bundle they make
 * must still serve requests: built here as SST builds it, then run against the emulators.
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const API_HANDLER = join(ROOT, "packages/api/src/handlers/api.ts");

const deployedBuild = (withPlugins: boolean, outdir: string) =>
  build({
    ...deployedBuildOptions,
    entryPoints: { index: API_HANDLER },
    outdir,
    outExtension: { ".js": ".mjs" },
    plugins: withPlugins ? deployedBuildOptions.plugins : [],
    metafile: true,
    write: withPlugins,
    logLevel: "error",
  });

/** Each input file with the bytes it put into the bundle (tree-shaken ones put none). */
const inputsOf = (metafile: Metafile) =>
  new Map(
    Object.values(metafile.outputs).flatMap((output) =>
      Object.entries(output.inputs).map(([path, input]) => [path.replaceAll("\\", "/"), input.bytesInOutput] as const),
    ),
  );
/**
 * What the default credential chain brings beyond the environment provider (see plugins.mjs):
 * SDK internals only (the STS and SSO clients, their protocols, profile-file readers).
 */
const credentialChain = (path: string) => /^node_modules\/@(aws-sdk|smithy)\//.test(path);
const bytesOf = (metafile: Metafile) => Object.values(metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);

let outdir: string;
let deployed: Metafile;
let plain: Metafile;

beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), "images-bundle-"));
  deployed = (await deployedBuild(true, outdir)).metafile;
  plain = (await deployedBuild(false, join(outdir, "plain"))).metafile;
});
afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

describe("infra/bundle/plugins.mjs", () => {
  it("leaves zod's other languages out, and nothing else but the SDK's unused credential chain", () => {
    const with_ = inputsOf(deployed);
    const without = inputsOf(plain);
    const kept = (inputs: Map<string, number>, path: string) => (inputs.get(path) ?? 0) > 0;
    expect(kept(without, "node_modules/zod/v4/locales/fr.js")).toBe(true);
    expect(kept(with_, "node_modules/zod/v4/locales/fr.js")).toBe(false);
    expect(kept(with_, "node_modules/zod/v4/locales/en.js")).toBe(true);
    expect(with_.has("infra/bundle/zod-locales.mjs")).toBe(true);
    const dropped = [...without.keys()].filter((path) => kept(without, path) && !kept(with_, path));
    expect(dropped.filter((path) => path.startsWith("node_modules/zod/v4/locales/")).length).toBeGreaterThan(30);
    expect(dropped.filter((path) => !path.startsWith("node_modules/zod/v4/locales/") && !credentialChain(path))).toEqual(
      [],
    );
    expect(bytesOf(plain) - bytesOf(deployed)).toBeGreaterThan(330_000);
  });

  it("gives the SDK clients the environment's credentials alone, as Lambda sets them", () => {
    const with_ = inputsOf(deployed);
    const without = inputsOf(plain);
    const kept = (inputs: Map<string, number>, path: string) => (inputs.get(path) ?? 0) > 0;
    expect(with_.has("infra/bundle/lambda-credentials.mjs")).toBe(true);
    const envProvider = [...with_.keys()].filter((path) => path.includes("/credential-provider-env/") && kept(with_, path));
    expect(envProvider.length).toBeGreaterThan(0);
    for (const gone of ["credential-provider-node", "credential-provider-sso", "credential-provider-ini", "nested-clients"]) {
      expect([...without.keys()].some((path) => path.includes(`/${gone}/`) && kept(without, path)), gone).toBe(true);
      expect([...with_.keys()].some((path) => path.includes(`/${gone}/`) && kept(with_, path)), gone).toBe(false);
    }
  });

  it("keeps the deployed API function within its 1.2 MB budget (npm run bench measures its start)", () => {
    expect(bytesOf(deployed)).toBeLessThanOrEqual(1_200_000);
  });

  it("makes a bundle that serves reads, listings and validation problems on the emulators", async () => {
    const aws = await startLocalAws({ tableName: "bundle-test", bucketName: "bundle-test" });
    try {
      const config = loadConfig({ ...aws.env, AWS_ENDPOINT_GUARD: "local" });
      const store = createImageStore({ config, clients: createAwsClients(config) });
      const png = await sharp({ create: { width: 12, height: 8, channels: 3, background: "#446688" } })
        .png()
        .toBuffer();
      const image = await store.create({ userId: "user-1", title: "Bundled", tags: ["harbour"], bytes: png });
      const token = await signDevelopmentToken("user-1");
      const driver = join(outdir, "drive.mjs");
      await writeFile(
        driver,
        `const { handler } = await import(${JSON.stringify(join(outdir, "index.mjs"))});
const event = (path, query = "") => ({
  version: "2.0", routeKey: "$default", rawPath: path, rawQueryString: query,
  headers: { host: "api.test", authorization: "Bearer ${token}" },
  requestContext: { http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "t" },
    requestId: "t", routeKey: "$default", stage: "$default", timeEpoch: Date.now() },
  isBase64Encoded: false,
});
const answers = [];
for (const [path, query] of [["/images/${image.image_id}", ""], ["/images", "tag=harbour"], ["/images", "limit=abc"]]) {
  const response = await handler(event(path, query), {});
  answers.push({ status: response.statusCode, body: JSON.parse(response.body) });
}
process.stdout.write("\\nANSWERS " + JSON.stringify(answers) + "\\n");`,
      );
      const env = { PATH: process.env.PATH, ...aws.env, AWS_ENDPOINT_GUARD: "local", LOG_LEVEL: "silent" };
      const { stdout } = await run(process.execPath, [driver], { env, cwd: outdir });
      const line = stdout.split("\n").find((text) => text.startsWith("ANSWERS "));
      const [one, listed, invalid] = JSON.parse(line!.slice("ANSWERS ".length)) as {
        status: number;
        body: Record<string, any>;
      }[];
      expect(one).toMatchObject({ status: 200, body: { image_id: image.image_id, title: "Bundled" } });
      expect(one!.body.download_url).toMatch(/X-Amz-Signature=/);
      expect(listed!.status).toBe(200);
      expect(listed!.body.items.map((item: { image_id: string }) => item.image_id)).toEqual([image.image_id]);
      expect(invalid!.status).toBe(400);
      // zod's English messages survive the locales plugin.
      expect(invalid!.body.detail).toMatch(/^limit: Invalid input: expected number, received NaN$/);
    } finally {
      await aws.stop();
    }
  });
});
