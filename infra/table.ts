import { GLOBAL_INDEXES, KEY_ATTRIBUTE_TYPE, TABLE } from "../packages/core/src/db/table.ts";

/**
 * The arguments of the stack's `sst.aws.Dynamo`, derived from `TABLE` (packages/core), the one
 * definition the ElectroDB entities and the local bootstrap also use. Pure, so that a test can
 * compare it with the entities without SST.
 */
type FieldType = "string" | "number" | "binary";

const FIELD_TYPES: Record<"S" | "N" | "B", FieldType> = { S: "string", N: "number", B: "binary" };

export interface StackIndex {
  hashKey: string;
  rangeKey: string;
  /** Every attribute, or the attributes named beside the keys (`TABLE`'s projection, as SST takes it). */
  projection: "all" | string[];
}

export interface StackTableArgs {
  fields: Record<string, FieldType>;
  primaryIndex: { hashKey: string; rangeKey: string };
  globalIndexes: Record<string, StackIndex>;
  ttl: string;
}

export function stackTableArgs(): StackTableArgs {
  const fields: Record<string, FieldType> = {};
  const keyField = (name: string) => {
    fields[name] = FIELD_TYPES[KEY_ATTRIBUTE_TYPE];
    return name;
  };
  const primaryIndex = { hashKey: keyField(TABLE.partitionKey), rangeKey: keyField(TABLE.sortKey) };
  const globalIndexes = Object.fromEntries(
    Object.entries(GLOBAL_INDEXES).map(([name, { partitionKey, sortKey, projection }]) => [
      name,
      {
        hashKey: keyField(partitionKey),
        rangeKey: keyField(sortKey),
        projection: projection === "all" ? ("all" as const) : [...projection],
      },
    ]),
  );
  return { fields, primaryIndex, globalIndexes, ttl: TABLE.ttlAttribute };
}
