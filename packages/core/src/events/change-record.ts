import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";

/**
 * One change of one item, as DynamoDB Streams hands it to Lambda (view type NEW_AND_OLD_IMAGES).
 * The local store's change feed (packages/local) writes the same shape, so one consumer serves both.
 */
export interface ChangeRecord {
  /** Unique per change; a redelivered record carries the same one. */
  eventID: string;
  eventName: "INSERT" | "MODIFY" | "REMOVE";
  eventSource?: string;
  awsRegion?: string;
  eventSourceARN?: string;
  dynamodb: {
    /** Epoch seconds. */
    ApproximateCreationDateTime?: number;
    Keys?: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
    OldImage?: Record<string, AttributeValue>;
    /** Digits; grows with every change to one item (and within a shard). */
    SequenceNumber: string;
    SizeBytes?: number;
    StreamViewType?: string;
  };
  /** Present on removals DynamoDB made itself: the TTL's. */
  userIdentity?: { type: string; principalId: string };
}

/** An item image in plain JavaScript values, with its attributes as stored. */
export type StoredItem = Record<string, unknown>;

/** The attribute ElectroDB names each item's entity in. */
export const ENTITY_ATTRIBUTE = "__edb_e__";

export const oldItemOf = (record: ChangeRecord): StoredItem | undefined =>
  record.dynamodb.OldImage ? unmarshall(record.dynamodb.OldImage) : undefined;

export const newItemOf = (record: ChangeRecord): StoredItem | undefined =>
  record.dynamodb.NewImage ? unmarshall(record.dynamodb.NewImage) : undefined;

export const entityOf = (item: StoredItem | undefined): string | undefined =>
  typeof item?.[ENTITY_ATTRIBUTE] === "string" ? item[ENTITY_ATTRIBUTE] : undefined;

/** DynamoDB's identity on the records of items its TTL removed. */
export const TTL_IDENTITY = { type: "Service", principalId: "dynamodb.amazonaws.com" } as const;

/** A removal by the table's TTL, not by a request. */
export const isTtlRemoval = (record: ChangeRecord): boolean =>
  record.eventName === "REMOVE" &&
  record.userIdentity?.type === TTL_IDENTITY.type &&
  record.userIdentity.principalId === TTL_IDENTITY.principalId;

/** Sequence numbers are digit strings of any length: compared as numbers. */
export const compareSequence = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};
