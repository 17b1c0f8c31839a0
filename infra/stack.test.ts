import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { describe, expect, it, onTestFinished } from "vitest";
import { describeTableForCreate, projectionOf, TABLE } from "../packages/core/src/db/table.ts";
import { stackTableArgs, type StackTableArgs } from "./table.ts";

/**
 * The table the stack declares (infra/table.ts, fed to sst.aws.Dynamo), the table the local
 * bootstrap creates (describeTableForCreate) and the keys the ElectroDB entities query must agree.
 */
type CreateTable = ReturnType<typeof describeTableForCreate>;
type KeyPair = { hash: string | undefined; range: string | undefined };

const TYPE_CODES = { string: "S", number: "N", binary: "B" } as const;

function keysOf(schema: readonly { AttributeName: string; KeyType: string }[]): KeyPair {
  return {
    hash: schema.find((key) => key.KeyType === "HASH")?.AttributeName,
    range: schema.find((key) => key.KeyType === "RANGE")?.AttributeName,
  };
}

/** Every way the stack's table differs from CreateTable's, one line each; none when they agree. */
function tableDifferences(stack: StackTableArgs, create: CreateTable): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push(`${what}: stack ${JSON.stringify(a)}, create ${JSON.stringify(b)}`);
  };
  same(
    "primary key",
    { hash: stack.primaryIndex.hashKey, range: stack.primaryIndex.rangeKey },
    keysOf(create.KeySchema),
  );
  const sorted = <T>(items: T[]) => items.map((item) => JSON.stringify(item)).sort();
  same(
    "attributes",
    sorted(Object.entries(stack.fields).map(([name, type]) => [name, TYPE_CODES[type]])),
    sorted(create.AttributeDefinitions.map((a) => [a.AttributeName, a.AttributeType])),
  );
  same(
    "index names",
    Object.keys(stack.globalIndexes).sort(),
    create.GlobalSecondaryIndexes.map((g) => g.IndexName).sort(),
  );
  for (const gsi of create.GlobalSecondaryIndexes) {
    const declared = stack.globalIndexes[gsi.IndexName];
    same(
      `index ${gsi.IndexName} keys`,
      declared && { hash: declared.hashKey, range: declared.rangeKey },
      keysOf(gsi.KeySchema),
    );
    same(`index ${gsi.IndexName} projection`, declared && projectionOf(declared.projection), gsi.Projection);
  }
  same("ttl attribute", stack.ttl, TABLE.ttlAttribute);
  if (stack.ttl in stack.fields) out.push(`ttl attribute ${stack.ttl} is also a key`);
  return out;
}

interface EntitySchema {
  model: { entity: string };
  attributes: Record<string, { type?: unknown; field?: string }>;
  indexes: Record<string, { index?: string; pk: { field: string }; sk?: { field: string } }>;
}

const isSchema = (value: unknown): value is EntitySchema =>
  typeof value === "object" && value !== null && "model" in value && "indexes" in value && "attributes" in value;

/** Every schema exported by packages/core/src/db/*.entity.ts, so a new entity is checked too. */
async function entitySchemas(): Promise<EntitySchema[]> {
  const dir = join(import.meta.dirname, "../packages/core/src/db");
  const files = readdirSync(dir).filter((file) => file.endsWith(".entity.ts"));
  const modules = await Promise.all(files.map((file) => import(pathToFileURL(join(dir, file)).href)));
  return modules.flatMap((module: Record<string, unknown>) => Object.values(module).filter(isSchema));
}

/** Every entity index whose key fields are not the table's (or the named GSI's) key attributes. */
function entityDifferences(stack: StackTableArgs, schemas: EntitySchema[]): string[] {
  const out: string[] = [];
  for (const schema of schemas) {
    for (const [accessPattern, index] of Object.entries(schema.indexes)) {
      const declared = index.index === undefined ? stack.primaryIndex : stack.globalIndexes[index.index];
      const where = `${schema.model.entity}.${accessPattern} (${index.index ?? "table"})`;
      if (!declared) {
        out.push(`${where}: the stack declares no index ${index.index}`);
        continue;
      }
      const used = { hash: index.pk.field, range: index.sk?.field };
      const expected = { hash: declared.hashKey, range: declared.rangeKey };
      if (JSON.stringify(used) !== JSON.stringify(expected)) {
        out.push(`${where}: uses ${JSON.stringify(used)}, the stack declares ${JSON.stringify(expected)}`);
      }
    }
    for (const [name, attribute] of Object.entries(schema.attributes)) {
      // DynamoDB's TTL only acts on a number of epoch seconds.
      if (attribute.field === stack.ttl && attribute.type !== "number") {
        out.push(`${schema.model.entity}.${name}: stored in the TTL attribute but of type ${String(attribute.type)}`);
      }
    }
  }
  return out;
}

const clone = <T>(value: T): T => structuredClone(value);

describe("the stack's table", () => {
  it("has the keys, indexes, projections and TTL attribute that the local bootstrap creates", () => {
    expect(tableDifferences(stackTableArgs(), describeTableForCreate("images"))).toEqual([]);
  });

  it("has every key and index that every ElectroDB entity queries", async () => {
    const schemas = await entitySchemas();
    expect(schemas.map((schema) => schema.model.entity)).toEqual(
      expect.arrayContaining(["image", "imageTag", "imageDeletion", "catalog", "idempotency"]),
    );
    expect(entityDifferences(stackTableArgs(), schemas)).toEqual([]);
  });

  it("keeps the TTL on the attribute the entities write their expiry to", async () => {
    const ttlAttributes = (await entitySchemas()).flatMap((schema) =>
      Object.values(schema.attributes).filter((attribute) => attribute.field === stackTableArgs().ttl),
    );
    expect(ttlAttributes.length).toBeGreaterThan(0);
  });

  it("would report a stack that drifted from the bootstrap or the entities", async () => {
    const create = describeTableForCreate("images");
    const schemas = await entitySchemas();

    const swapped = clone(stackTableArgs());
    swapped.globalIndexes.gsi2 = { ...swapped.globalIndexes.gsi2!, hashKey: "gsi2sk", rangeKey: "gsi2pk" };
    expect(tableDifferences(swapped, create)).toContainEqual(expect.stringContaining("index gsi2 keys"));
    expect(entityDifferences(swapped, schemas)).toContainEqual(expect.stringContaining("image.byUser (gsi2)"));

    const renamed = clone(stackTableArgs());
    renamed.globalIndexes = { byMonth: renamed.globalIndexes.gsi1!, gsi2: renamed.globalIndexes.gsi2! };
    expect(tableDifferences(renamed, create)).toContainEqual(expect.stringContaining("index names"));
    expect(entityDifferences(renamed, schemas)).toContainEqual(expect.stringContaining("no index gsi1"));

    const numberKey = clone(stackTableArgs());
    numberKey.fields.sk = "number";
    expect(tableDifferences(numberKey, create)).toContainEqual(expect.stringContaining("attributes"));

    const otherTtl = { ...clone(stackTableArgs()), ttl: "ttl" };
    expect(tableDifferences(otherTtl, create)).toContainEqual(expect.stringContaining("ttl attribute"));

    const everything = clone(stackTableArgs());
    everything.globalIndexes.gsi1!.projection = "all";
    expect(tableDifferences(everything, create)).toContainEqual(expect.stringContaining("index gsi1 projection"));
    const oneMore = clone(stackTableArgs());
    oneMore.globalIndexes.gsi1!.projection = [...(oneMore.globalIndexes.gsi1!.projection as string[]), "title"];
    expect(tableDifferences(oneMore, create)).toContainEqual(expect.stringContaining("index gsi1 projection"));
  });
});

describe("the stack", () => {
  it("builds its table from stackTableArgs rather than from names typed again", () => {
    const storage = readFileSync(join(import.meta.dirname, "storage.ts"), "utf8");
    expect(storage).toMatch(/new sst\.aws\.Dynamo\("ImagesTable", \{\s*\.\.\.stackTableArgs\(\),/);
  });
});

describe("what reaches the deployed code", () => {
  it("is read by the configuration: the names from the environment, the secret by link under the name the stack gives it", async () => {
    // Prepare: the secret's name as infra/ declares it; the table's and bucket's names as the
    // stack sets them in the functions' environment (infra/api.ts), since neither is linked.
    const storage = readFileSync(join(import.meta.dirname, "storage.ts"), "utf8");
    const secret = /new sst\.Secret\("([A-Za-z0-9]+)"/.exec(storage)?.[1];
    expect(secret).toBeDefined();
    const api = readFileSync(join(import.meta.dirname, "api.ts"), "utf8");
    expect(api).toMatch(/TABLE_NAME: table\.name,\s*BUCKET_NAME: bucket\.name,/);
    // As SST's Resource sees them in a function: one SST_RESOURCE_<name> JSON per link.
    onTestFinished(() => {
      for (const key of Object.keys(process.env)) if (key.startsWith("SST_RESOURCE_")) delete process.env[key];
    });
    process.env.SST_RESOURCE_App = JSON.stringify({ name: "images", stage: "test" });
    process.env[`SST_RESOURCE_${secret}`] = JSON.stringify({ value: "s".repeat(40) });
    const { loadConfig } = await import("../packages/core/src/config.ts");
    const env: Record<string, string | undefined> = {
      ...process.env,
      AWS_ENDPOINT_GUARD: "off",
      TABLE_NAME: "stack-table",
      BUCKET_NAME: "stack-bucket",
    };
    delete env.CURSOR_SECRET;

    // Act
    const config = loadConfig(env);

    // Assess
    expect(config).toMatchObject({
      tableName: "stack-table",
      bucketName: "stack-bucket",
      cursorSecret: "s".repeat(40),
    });
  });
});

describe("the config SST evaluates", () => {
  it("imports no package (Node's own modules aside): SST evaluates it from .sst/platform, whose own older SDK a package would load", async () => {
    const { metafile } = await build({
      entryPoints: [join(import.meta.dirname, "../sst.config.ts")],
      bundle: true,
      format: "esm",
      platform: "node",
      packages: "external",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const external = Object.values(metafile.outputs).flatMap((output) =>
      output.imports.filter((item) => item.external).map((item) => item.path),
    );
    // infra/media.ts reads the committed public key with node:fs; infra/api.ts finds Scalar's
    // script with node:module's resolver (packages/api/src/docs-script.ts); built-ins resolve nowhere.
    expect(external.filter((path) => !path.startsWith("node:"))).toEqual([]);
    expect(external.every((path) => ["node:fs", "node:path", "node:module"].includes(path))).toBe(true);
  });
});
