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
    /**
     * Images by month bucket of upload time; tag items by tag: the listings spread over write
     * shards, the busiest partitions there are. An entry holds the keys and the attributes a page
     * is merged and continued by, none that an edit changes: so an edit writes nothing here, and an
     * entry is one write unit whatever the description (a page reads its items from the table).
     */
    gsi1: { partitionKey: "gsi1pk", sortKey: "gsi1sk", projection: ["imageId", "uploadTime", "month"] },
    /** Images by owner; tag items by owner and tag. An owner's partition takes what its rate limit lets in. */
    gsi2: { partitionKey: "gsi2pk", sortKey: "gsi2sk", projection: "all" },
    /** Trashed images by owner, by when they were trashed (sparse: only trashed images have its keys). */
    gsi3: { partitionKey: "gsi3pk", sortKey: "gsi3sk", projection: "all" },
  },
} as const;

export type GlobalIndexName = keyof typeof TABLE.globalIndexes;

/** The attributes of an index entry's key (what a Query's ExclusiveStartKey holds): the table's and the index's. */
export function indexKeyFields(index: GlobalIndexName): string[] {
  const { partitionKey, sortKey } = TABLE.globalIndexes[index];
  return [TABLE.partitionKey, TABLE.sortKey, partitionKey, sortKey];
}

/** What an index holds of an item beside the keys: everything, or the attributes named. */
export type IndexProjection = "all" | readonly string[];

/** `TABLE.globalIndexes` as plain strings, for code that goes over every index alike. */
export const GLOBAL_INDEXES: Record<
  GlobalIndexName,
  { partitionKey: string; sortKey: string; projection: IndexProjection }
> = TABLE.globalIndexes;

/** An index's projection in CreateTable's terms. */
export function projectionOf(projection: IndexProjection) {
  return projection === "all"
    ? { ProjectionType: "ALL" as const }
    : { ProjectionType: "INCLUDE" as const, NonKeyAttributes: [...projection] };
}

/** Every key attribute is a string. */
export const KEY_ATTRIBUTE_TYPE = "S" as const;

/** A plain description of the table in CreateTable's terms, for tools that create it. */
export function describeTableForCreate(tableName: string) {
  const attributes = new Set<string>([TABLE.partitionKey, TABLE.sortKey]);
  const GlobalSecondaryIndexes = Object.entries(GLOBAL_INDEXES).map(([IndexName, keys]) => {
    attributes.add(keys.partitionKey);
    attributes.add(keys.sortKey);
    return {
      IndexName,
      KeySchema: [
        { AttributeName: keys.partitionKey, KeyType: "HASH" as const },
        { AttributeName: keys.sortKey, KeyType: "RANGE" as const },
      ],
      Projection: projectionOf(keys.projection),
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
