/**
 * `npm run docs`: writes docs/openapi.json and docs/postman_collection.json from the app's routes.
 * The collection is the scenario of postman-flow.ts (what `npm run test:postman` runs with newman),
 * each step built on the request openapi-to-postmanv2 makes for its operation.
 * `npm run docs:check`: builds both again and fails, naming the file, when either on disk differs.
 *
 * The app is built with a configuration of placeholder names and a store that is never called:
 * no emulator starts, no AWS endpoint is contacted.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig, type ImageStore } from "@images/core";
import { createApp } from "../src/app.ts";
import { createLogger } from "../src/logger.ts";
import { openApiDocument } from "../src/routes/system.routes.ts";
import { DEFAULT_BASE_URL, FIXTURES, FLOW, TOKEN_VARIABLE, type FlowStep } from "./postman-flow.ts";

const REPO_DIR = join(import.meta.dirname, "../../..");
const DOCS_DIR = join(REPO_DIR, "docs");

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

type Request = JsonObject & { url: JsonObject; header?: JsonObject[]; description?: Json };

const isObject = (value: Json | undefined): value is JsonObject =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** The converted requests by operationId (matched on method and path), as templates for the steps. */
function requestsByOperation(openapi: JsonObject, collection: JsonObject): Map<string, Request> {
  const operationIds = new Map<string, string>();
  for (const [path, operations] of Object.entries(openapi.paths as JsonObject)) {
    for (const [method, operation] of Object.entries(operations as JsonObject)) {
      operationIds.set(`${method.toUpperCase()} ${path}`, (operation as JsonObject).operationId as string);
    }
  }
  const found = new Map<string, Request>();
  const walk = (items: Json) => {
    for (const item of items as JsonObject[]) {
      if (item.item) walk(item.item);
      if (!isObject(item.request)) continue;
      const request = item.request as Request;
      const path = (request.url.path as string[]).map((part) => part.replace(/^:(.+)$/, "{$1}")).join("/");
      const operationId = operationIds.get(`${request.method as string} /${path}`);
      if (operationId) found.set(operationId, request);
    }
  };
  walk(collection.item!);
  return found;
}

/** A components schema, or an operation's answer schema, with its $refs inlined and what Ajv needs not dropped. */
function schemaForCheck(openapi: JsonObject, schema: Json): Json {
  const components = (openapi.components as JsonObject).schemas as JsonObject;
  /** Keywords for people only; `format` too (Ajv 6 in Postman's sandbox refuses ones it does not know). */
  const dropped = new Set(["example", "examples", "description", "format"]);
  const inline = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(inline);
    if (!isObject(value)) return value;
    if (typeof value.$ref === "string") {
      return inline(components[value.$ref.replace("#/components/schemas/", "")]!);
    }
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !dropped.has(key))
        .map(([key, inner]) => [
          key,
          // A map of property names to schemas: every name stays, whatever it is called.
          key === "properties" && isObject(inner)
            ? Object.fromEntries(Object.entries(inner).map(([name, property]) => [name, inline(property)]))
            : inline(inner),
        ]),
    );
  };
  return inline(schema);
}

/** The answer a step expects: its media type and schema, from the operation's responses. */
function expectedAnswer(openapi: JsonObject, step: FlowStep): { mediaType?: string; name?: string; schema?: Json } {
  if (!step.operationId) return {};
  for (const operations of Object.values(openapi.paths as JsonObject)) {
    for (const operation of Object.values(operations as JsonObject) as JsonObject[]) {
      if (operation.operationId !== step.operationId) continue;
      const response = (operation.responses as JsonObject)[String(step.status)] as JsonObject | undefined;
      if (!response) throw new Error(`postman-flow: ${step.operationId} declares no ${step.status} answer`);
      const content = Object.entries((response.content as JsonObject | undefined) ?? {});
      if (content.length === 0) return {};
      const [mediaType, media] = content[0]!;
      const schema = step.schema
        ? ((openapi.components as JsonObject).schemas as JsonObject)[step.schema]
        : (media as JsonObject).schema;
      if (schema === undefined) throw new Error(`postman-flow: no schema ${step.schema}`);
      const ref = isObject(schema) && typeof schema.$ref === "string" ? schema.$ref.split("/").pop() : undefined;
      return { mediaType, name: step.schema ?? ref ?? "the answer", schema: schemaForCheck(openapi, schema) };
    }
  }
  throw new Error(`postman-flow: no operation ${step.operationId}`);
}

const script = (type: "prerequest" | "test", lines: string[]): JsonObject => ({
  listen: type,
  script: { type: "text/javascript", exec: lines.join("\n").split("\n") },
});

/** The step's checks: its status, then the shape of its body (the OpenAPI schema), then its own. */
function testLines(openapi: JsonObject, step: FlowStep): string[] {
  const { mediaType, name, schema } = expectedAnswer(openapi, step);
  const lines = [`pm.test("status ${step.status}", () => pm.response.to.have.status(${step.status}));`];
  if (step.status === 204) {
    lines.push(`pm.test("no body", () => pm.expect(pm.response.text()).to.equal(""));`);
  } else if (mediaType?.includes("json")) {
    lines.push(
      `let body;`,
      `try { body = pm.response.json(); } catch (error) { body = undefined; }`,
      `pm.test("${mediaType}: ${name} as the OpenAPI document (${step.operationId} ${step.status}) declares", () => {`,
      `  pm.expect(pm.response.headers.get("Content-Type")).to.include(${JSON.stringify(mediaType)});`,
      `  pm.response.to.have.jsonSchema(${JSON.stringify(schema)});`,
      `});`,
    );
    if (mediaType === "application/problem+json") {
      lines.push(`pm.test("the problem repeats the status", () => pm.expect(body.status).to.equal(${step.status}));`);
    }
  } else if (mediaType) {
    lines.push(
      `pm.test("${mediaType}, not empty", () => {`,
      `  pm.expect(pm.response.headers.get("Content-Type")).to.include(${JSON.stringify(mediaType)});`,
      `  pm.expect(pm.response.text()).to.not.be.empty;`,
      `});`,
    );
  }
  return [...lines, ...(step.tests ?? [])];
}

function stepUrl(step: FlowStep, template: Request | undefined): Json {
  if (!template) return step.url!;
  const query = Object.entries(step.query ?? {}).map(([key, value]) => {
    const declared = (template.url.query as JsonObject[]).find((parameter) => parameter.key === key);
    if (!declared) throw new Error(`postman-flow: ${step.operationId} has no query parameter ${key}`);
    return { key, value, description: declared.description ?? null };
  });
  const variable = (template.url.variable as JsonObject[]).map((parameter) => {
    const value = step.pathVariables?.[parameter.key as string];
    if (value === undefined) throw new Error(`postman-flow: ${step.name} gives no ${parameter.key as string}`);
    return { ...parameter, value };
  });
  const path = template.url.path as string[];
  const search = query.map(({ key, value }) => `${key}=${value}`).join("&");
  return {
    raw: `{{baseUrl}}/${path.join("/")}${search ? `?${search}` : ""}`,
    host: ["{{baseUrl}}"],
    path,
    query,
    variable,
  };
}

function stepBody(step: FlowStep): Json {
  if (step.json !== undefined) {
    return { mode: "raw", raw: JSON.stringify(step.json, null, 2), options: { raw: { language: "json" } } };
  }
  if (step.form) {
    return {
      mode: "formdata",
      formdata: step.form.map((field): JsonObject =>
        "file" in field
          ? { key: field.key, type: "file", src: field.file }
          : { key: field.key, value: field.value, type: "text" },
      ),
    };
  }
  return null;
}

function stepItem(openapi: JsonObject, templates: Map<string, Request>, step: FlowStep): JsonObject {
  const template = step.operationId ? templates.get(step.operationId) : undefined;
  if (step.operationId && !template) throw new Error(`postman-flow: the collection has no ${step.operationId}`);
  // The body's mode sets Content-Type (a multipart boundary included), not the converter's header.
  const header = (template?.header ?? []).filter((h) => (h.key as string).toLowerCase() !== "content-type");
  if (step.json !== undefined) header.push({ key: "Content-Type", value: "application/json" });
  const request: JsonObject = {
    method: template ? template.method! : step.method!,
    url: stepUrl(step, template),
    header,
    ...(template?.description ? { description: template.description } : {}),
    ...(stepBody(step) ? { body: stepBody(step) } : {}),
    ...(step.noAuth ? { auth: { type: "noauth" } } : {}),
  };
  return {
    name: step.name,
    event: [
      ...(step.prerequest ? [script("prerequest", step.prerequest)] : []),
      script("test", testLines(openapi, step)),
    ],
    request,
  };
}

const COLLECTION_DESCRIPTION = `

Run as a whole, the folders are a scenario: health, an upload in each mode (multipart; JSON, then \
the presigned POST to S3, then polling until ready), get, list with each filter, edit, delete, \
then error answers; every request checks its status and its body against the OpenAPI document. \
It needs the fixtures in ../shared/fixtures/images beside the repository (newman: \
--working-dir <the repository>).

Variables, from an environment or the globals (the collection defines none, so none shadows them): \
\`${TOKEN_VARIABLE}\`, a bearer token (\`npm run --silent token -- alice\`); \`baseUrl\`, ${DEFAULT_BASE_URL} when not given.`;

/** The scenario of postman-flow.ts, built on the converted requests, with the bearer token from `token`. */
function scenarioCollection(openapi: JsonObject, converted: Json): Json {
  if (!isObject(converted)) throw new Error("the converter returned no collection");
  const templates = requestsByOperation(openapi, converted);
  const info = converted.info as JsonObject;
  const description = info.description as JsonObject;
  const { variable: _variable, event: _event, item: _item, ...rest } = converted;
  return {
    ...rest,
    info: {
      ...info,
      description: { ...description, content: `${description.content as string}${COLLECTION_DESCRIPTION}` },
    },
    item: FLOW.map((folder) => ({
      name: folder.name,
      description: folder.description,
      item: folder.steps.map((step) => stepItem(openapi, templates, step)),
    })),
    auth: { type: "bearer", bearer: [{ key: "token", value: `{{${TOKEN_VARIABLE}}}`, type: "string" }] },
    event: [
      script("prerequest", [
        `// baseUrl from the environment or the globals; npm run dev's address when neither gives one.`,
        `if (!pm.variables.get("baseUrl")) pm.variables.set("baseUrl", ${JSON.stringify(DEFAULT_BASE_URL)});`,
      ]),
    ],
  };
}

/** The fixtures the collection sends are the ones it describes (when they are there to look at). */
async function checkFixtures(): Promise<void> {
  for (const fixture of [FIXTURES.large]) {
    const size = await stat(join(REPO_DIR, fixture.src)).then(
      (s) => s.size,
      () => undefined,
    );
    if (size !== undefined && size !== fixture.bytes) {
      throw new Error(`${fixture.src} has ${size} bytes, postman-flow.ts says ${fixture.bytes}`);
    }
  }
}

const asFile = (value: Json) => `${JSON.stringify(value, null, 2)}\n`;

async function buildDocuments(): Promise<Record<string, string>> {
  const openapi = buildOpenApi();
  await checkFixtures();
  const collection = scenarioCollection(
    openapi,
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
