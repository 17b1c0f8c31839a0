/**
 * `npm run docs`: writes docs/openapi.json and docs/postman_collection.json from the app's routes.
 * `npm run docs:check`: builds both again and fails, naming the file, when either on disk differs.
 *
 * The app is built with a configuration of placeholder names and a store that is never called:
 * no emulator starts, no AWS endpoint is contacted.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig, type ImageStore } from "@images/core";
import { createApp } from "../src/app.ts";
import { createLogger } from "../src/logger.ts";
import { openApiDocument } from "../src/routes/system.routes.ts";

const DOCS_DIR = join(import.meta.dirname, "../../../docs");
/** The collection's variables: where the API is, and the caller's token. */
const BASE_URL = "http://127.0.0.1:3000";
const TOKEN_VARIABLE = "bearerToken";

type Json = null | boolean | number | string | Json[] | JsonObject;
type JsonObject = { [key: string]: Json };

const unusedStore = new Proxy({} as ImageStore, {
  get: (_target, name) => () => {
    throw new Error(`building the documents called store.${String(name)}`);
  },
});

function buildOpenApi(): JsonObject {
  const config = loadConfig({ TABLE_NAME: "docs", BUCKET_NAME: "docs" });
  const app = createApp({ config, store: unusedStore, logger: createLogger({ level: "silent" }) });
  return openApiDocument(app) as unknown as JsonObject;
}

/**
 * The converter fakes some example values with Math.random (strings for a pattern, a pick among
 * a union's members), and its faker keeps the Math.random it saw when it was loaded. So this
 * script replaces Math.random with a seeded generator before loading it: the same API then
 * gives the same file. mulberry32: small, and good enough for examples.
 */
let seed = 0x2f6b9a31;
Math.random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const { convertV2 } = await import("openapi-to-postmanv2");

function convertToPostman(openapi: JsonObject): Promise<Json> {
  return new Promise((resolve, reject) => {
    convertV2(
      // A copy: the converter writes placeholder defaults into the document it is given.
      { type: "json", data: structuredClone(openapi) },
      {
        folderStrategy: "Tags",
        // Placeholders from the schema ("<string>") rather than random fake values.
        parametersResolution: "Schema",
        enableOptionalParameters: false,
        alwaysInheritAuthentication: true,
      },
      (error, result) => {
        if (error) return reject(new Error(`conversion failed: ${error.message}`));
        const collection = result?.output?.[0]?.data;
        if (!result?.result || !collection) return reject(new Error(`conversion failed: ${result?.reason}`));
        resolve(collection as Json);
      },
    );
  });
}

/** Drops what the converter makes up on each run (ids), so that the same API gives the same file. */
function withoutGeneratedIds(value: Json): Json {
  if (Array.isArray(value)) return value.map(withoutGeneratedIds);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== "id" && key !== "_postman_id")
      .map(([key, inner]) => [key, withoutGeneratedIds(inner)]),
  );
}

/** Each request gets a fresh Idempotency-Key from Postman ({{$guid}}) instead of a faked one. */
function withFreshIdempotencyKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(withFreshIdempotencyKeys);
  if (value === null || typeof value !== "object") return value;
  const isKeyHeader = typeof value.key === "string" && value.key.toLowerCase() === "idempotency-key";
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      isKeyHeader && key === "value" ? "{{$guid}}" : withFreshIdempotencyKeys(inner),
    ]),
  );
}

/** The collection with the base URL and the bearer token as its variables. */
function withCollectionVariables(collection: Json): Json {
  if (collection === null || typeof collection !== "object" || Array.isArray(collection)) {
    throw new Error("the converter returned no collection");
  }
  return {
    ...collection,
    auth: { type: "bearer", bearer: [{ key: "token", value: `{{${TOKEN_VARIABLE}}}`, type: "string" }] },
    variable: [
      { key: "baseUrl", value: BASE_URL, type: "string" },
      { key: TOKEN_VARIABLE, value: "", type: "string" },
    ],
  };
}

const asFile = (value: Json) => `${JSON.stringify(value, null, 2)}\n`;

async function buildDocuments(): Promise<Record<string, string>> {
  const openapi = buildOpenApi();
  const collection = withCollectionVariables(
    withFreshIdempotencyKeys(withoutGeneratedIds(await convertToPostman(openapi))),
  );
  return { "openapi.json": asFile(openapi), "postman_collection.json": asFile(collection) };
}

const documents = await buildDocuments();
if (process.argv.includes("--check")) {
  const stale: string[] = [];
  for (const [name, text] of Object.entries(documents)) {
    const onDisk = await readFile(join(DOCS_DIR, name), "utf8").catch(() => undefined);
    if (onDisk !== text) stale.push(`docs/${name}`);
  }
  if (stale.length > 0) {
    console.error(
      `${stale.join(" and ")} ${stale.length > 1 ? "are" : "is"} not what the app declares: run npm run docs`,
    );
    process.exit(1);
  }
  console.log("docs/openapi.json and docs/postman_collection.json are up to date");
} else {
  await mkdir(DOCS_DIR, { recursive: true });
  for (const [name, text] of Object.entries(documents)) await writeFile(join(DOCS_DIR, name), text);
  console.log(
    `wrote ${Object.keys(documents)
      .map((name) => `docs/${name}`)
      .join(" and ")}`,
  );
}
