import { KEY_ATTRIBUTE_TYPE, TABLE } from "../packages/core/src/db/table.ts";

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
  /** Every attribute: a listing must not need a second read per item. */
  projection: "all";
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
    Object.entries(TABLE.globalIndexes).map(([name, keys]) => [
      name,
      { hashKey: keyField(keys.partitionKey), rangeKey: keyField(keys.sortKey), projection: "all" as const },
    ]),
  );
  return { fields, primaryIndex, globalIndexes, ttl: TABLE.ttlAttribute };
}
