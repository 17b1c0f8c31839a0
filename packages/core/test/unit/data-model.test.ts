import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalogSchema } from "../../src/db/catalog.entity.ts";
import { digestSchema } from "../../src/db/digest.entity.ts";
import { imageDeletionSchema } from "../../src/db/image-deletion.entity.ts";
import { imageTagSchema } from "../../src/db/image-tag.entity.ts";
import { imageSchema } from "../../src/db/image.entity.ts";
import { describeTableForCreate, TABLE } from "../../src/db/table.ts";

const schemas = [imageSchema, imageTagSchema, imageDeletionSchema, catalogSchema, digestSchema];
const SRC = join(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe("the data model", () => {
  it("keys every entity index on the fields the table declares", () => {
    const table = describeTableForCreate("t");
    const gsis = new Map(
      table.GlobalSecondaryIndexes.map((gsi) => [gsi.IndexName, gsi.KeySchema.map((k) => k.AttributeName)]),
    );
    for (const schema of schemas) {
      for (const index of Object.values(schema.indexes) as {
        index?: string;
        pk: { field: string };
        sk: { field: string };
      }[]) {
        const expected = index.index ? gsis.get(index.index) : [TABLE.partitionKey, TABLE.sortKey];
        expect(expected, `${schema.model.entity} ${index.index ?? "table"}`).toEqual([index.pk.field, index.sk.field]);
      }
    }
  });

  it("declares every key attribute once, as a string", () => {
    const table = describeTableForCreate("t");
    const names = table.AttributeDefinitions.map((a) => a.AttributeName);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "pk", "sk"]);
  });

  it("has no Scan anywhere in the core: every read is a Query or a Get", () => {
    const offenders = sourceFiles(SRC).filter((file) =>
      /\bScan(Command|Input)?\b|\.scan\b/.test(readFileSync(file, "utf8")),
    );
    expect(offenders).toEqual([]);
  });
});
