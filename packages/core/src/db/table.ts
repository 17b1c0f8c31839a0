/**
 * The one definition of the DynamoDB table: its key attributes, its global secondary indexes
 * and its TTL attribute. The ElectroDB entities, the local bootstrap (packages/local) and the
 * AWS stack (sst.config.ts) all derive from this object, so they cannot drift apart.
 */
export const TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  /** Epoch seconds; DynamoDB's TTL removes records whose time has passed (pending uploads, trashed images). */
  ttlAttribute: "expires_at",
  globalIndexes: {
    /** Images by month bucket of upload time; tag items by tag. */
    gsi1: { partitionKey: "gsi1pk", sortKey: "gsi1sk" },
    /** Images by owner; tag items by owner and tag. */
    gsi2: { partitionKey: "gsi2pk", sortKey: "gsi2sk" },
    /** Trashed images by owner, by when they were trashed (sparse: only trashed images have its keys). */
    gsi3: { partitionKey: "gsi3pk", sortKey: "gsi3sk" },
  },
} as const;

export type GlobalIndexName = keyof typeof TABLE.globalIndexes;

/** Every key attribute is a string. */
export const KEY_ATTRIBUTE_TYPE = "S" as const;

/** A plain description of the table in CreateTable's terms, for tools that create it. */
export function describeTableForCreate(tableName: string) {
  const attributes = new Set<string>([TABLE.partitionKey, TABLE.sortKey]);
  const GlobalSecondaryIndexes = Object.entries(TABLE.globalIndexes).map(([IndexName, keys]) => {
    attributes.add(keys.partitionKey);
    attributes.add(keys.sortKey);
    return {
      IndexName,
      KeySchema: [
        { AttributeName: keys.partitionKey, KeyType: "HASH" as const },
        { AttributeName: keys.sortKey, KeyType: "RANGE" as const },
      ],
      Projection: { ProjectionType: "ALL" as const },
    };
  });
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: "HASH" as const },
      { AttributeName: TABLE.sortKey, KeyType: "RANGE" as const },
    ],
    AttributeDefinitions: [...attributes].map((AttributeName) => ({
      AttributeName,
      AttributeType: KEY_ATTRIBUTE_TYPE,
    })),
    GlobalSecondaryIndexes,
  };
}
