/**
 * DEV AND TEST ONLY. The embedded store's stand-in for DynamoDB Streams (dynalite has none):
 * the transactions proxy, which every write passes, reports each item it changed with the item
 * before and after, and this turns them into records of the shape Lambda receives from a stream
 * with view type NEW_AND_OLD_IMAGES.
 *
 * Like DynamoDB Streams: one record per changed item, in commit order; none for a write that
 * failed its condition or a transaction that was cancelled; none for a write that left the item
 * as it was; a removal by the TTL carries DynamoDB's service identity. Unlike it: records live in
 * this process only (kept from start, for every listener added later), there are no shards, and
 * the sequence numbers grow across the whole table, not per shard.
 */
import { randomUUID } from "node:crypto";
import type { JsonObject } from "./transact-write-items.ts";

/** The record Lambda gets from a DynamoDB stream (the part of it the service reads and more). */
export interface ChangeFeedRecord {
  eventID: string;
  eventName: "INSERT" | "MODIFY" | "REMOVE";
  eventVersion: "1.1";
  eventSource: "aws:dynamodb";
  awsRegion: string;
  eventSourceARN: string;
  dynamodb: {
    ApproximateCreationDateTime: number;
    Keys: JsonObject;
    NewImage?: JsonObject;
    OldImage?: JsonObject;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: "NEW_AND_OLD_IMAGES";
  };
  userIdentity?: { type: "Service"; principalId: "dynamodb.amazonaws.com" };
}

/** One item as a write found it and left it (attribute-value JSON; undefined when absent). */
export interface ItemChange {
  tableName: string;
  key: JsonObject;
  before?: JsonObject;
  after?: JsonObject;
  /** Removed by the TTL sweeper rather than a request. */
  byTtl?: boolean;
}

export type ChangeListener = (record: ChangeFeedRecord) => void;

export interface ChangeFeed {
  /**
   * Calls `listener` with every record from the start, then with each new one as it is
   * committed. Returns the function that stops it.
   */
  subscribe(listener: ChangeListener): () => void;
  /** Every record so far, in commit order. */
  records(): readonly ChangeFeedRecord[];
}

/** Attribute order means nothing to DynamoDB: compare items with their keys sorted. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as JsonObject)[key])]),
    );
  }
  return value;
}
const sameItem = (a: JsonObject, b: JsonObject) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

export function createChangeFeed(region: string) {
  const kept: ChangeFeedRecord[] = [];
  const listeners = new Set<ChangeListener>();
  // Sequence numbers are digit strings; starting from the clock keeps them growing across restarts.
  let sequence = BigInt(Date.now()) * 1_000_000n;

  function deliver(record: ChangeFeedRecord) {
    for (const listener of listeners) {
      try {
        listener(record);
      } catch (error) {
        console.error("[change-feed] a listener failed:", error);
      }
    }
  }

  /** Records the committed changes, in the order given. Called with the store's write lock held. */
  function publish(changes: ItemChange[]): void {
    for (const change of changes) {
      const { before, after } = change;
      if (!before && !after) continue;
      if (before && after && sameItem(before, after)) continue;
      sequence += 1n;
      const record: ChangeFeedRecord = {
        eventID: randomUUID().replaceAll("-", ""),
        eventName: !before ? "INSERT" : !after ? "REMOVE" : "MODIFY",
        eventVersion: "1.1",
        eventSource: "aws:dynamodb",
        awsRegion: region,
        eventSourceARN: `arn:aws:dynamodb:${region}:000000000000:table/${change.tableName}/stream/local`,
        dynamodb: {
          ApproximateCreationDateTime: Date.now() / 1000,
          Keys: change.key,
          ...(after ? { NewImage: after } : {}),
          ...(before ? { OldImage: before } : {}),
          SequenceNumber: String(sequence),
          SizeBytes: Buffer.byteLength(JSON.stringify([change.key, after ?? {}, before ?? {}])),
          StreamViewType: "NEW_AND_OLD_IMAGES",
        },
        ...(change.byTtl ? { userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" } } : {}),
      };
      kept.push(record);
      deliver(record);
    }
  }

  const feed: ChangeFeed = {
    subscribe(listener) {
      for (const record of kept) listener(record);
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    records: () => kept,
  };
  return { feed, publish };
}
