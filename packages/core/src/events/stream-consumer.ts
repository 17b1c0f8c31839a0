import { isTtlRemoval, type ChangeRecord } from "./change-record.ts";
import { imageEventOf, type DeriveOptions, type ImageEvent } from "./image-events.ts";

/** Lambda's answer for a stream batch: retry from the first record that failed. */
export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
}

export interface StreamConsumerDeps extends DeriveOptions {
  /** Sends events on, in the order given; throws when any of them was not taken. */
  publish: (events: ImageEvent[]) => Promise<void>;
  /** Completes what the TTL's removal of an item that names objects leaves (purge.ts); idempotent. */
  purge: (record: ChangeRecord) => Promise<unknown>;
  /** Events sent in one call at most (EventBridge's PutEvents takes 10). */
  publishBatchSize?: number;
  log?: (entry: Record<string, unknown>) => void;
}

/**
 * Turns a batch of change records, in stream order, into image events and sends them; purges
 * what the TTL removed. On the first failure it stops and names that record, so Lambda retries
 * the batch from there: every change gets its event at least once, and events of one image
 * leave in the order of its changes. A retried record yields the same event, id and all.
 */
export function createStreamConsumer(deps: StreamConsumerDeps) {
  const batchSize = deps.publishBatchSize ?? 10;

  return async function consume(records: ChangeRecord[]): Promise<BatchResult> {
    let pending: { record: ChangeRecord; event: ImageEvent }[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const sending = pending;
      pending = [];
      try {
        await deps.publish(sending.map((entry) => entry.event));
      } catch (error) {
        throw new RecordFailure(sending[0]!.record, error);
      }
    };
    try {
      for (const record of records) {
        const event = imageEventOf(record, deps);
        if (isTtlRemoval(record)) {
          // What went before is sent first, so a failed purge retries from this record alone.
          await flush();
          try {
            await deps.purge(record);
          } catch (error) {
            throw new RecordFailure(record, error);
          }
        }
        if (!event) continue;
        pending.push({ record, event });
        if (pending.length >= batchSize) await flush();
      }
      await flush();
      return { batchItemFailures: [] };
    } catch (error) {
      if (!(error instanceof RecordFailure)) throw error;
      deps.log?.({
        event: "change_record_failed",
        sequence: error.record.dynamodb.SequenceNumber,
        error: String(error.cause),
      });
      return { batchItemFailures: [{ itemIdentifier: error.record.dynamodb.SequenceNumber }] };
    }
  };
}

export type StreamConsumer = ReturnType<typeof createStreamConsumer>;

class RecordFailure extends Error {
  constructor(
    readonly record: ChangeRecord,
    cause: unknown,
  ) {
    super(`change record ${record.dynamodb.SequenceNumber} failed`, { cause });
  }
}
