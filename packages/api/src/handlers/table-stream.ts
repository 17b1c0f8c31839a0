import { createAwsClients, loadConfig } from "@images/core";
import type { ChangeRecord } from "@images/core/events/change-record";
import { createImageEventConsumer } from "@images/core/events/consumer";
import { createBusPublisher, createEventBridgeClient } from "@images/core/events/event-bus";
import { createLogger } from "../logger.ts";

/** The part of a DynamoDB stream event this function reads. */
interface DynamoStreamEvent {
  Records?: ChangeRecord[];
}

// Built once per Lambda instance and reused by every invocation it serves.
const config = loadConfig();
const clients = createAwsClients(config);
const logger = createLogger();
if (!config.eventBusName) throw new Error("EVENT_BUS_NAME is required by the table's stream consumer");
const consume = createImageEventConsumer({
  config,
  clients,
  publish: createBusPublisher({
    client: createEventBridgeClient(config),
    busName: config.eventBusName,
    webhookSecret: config.webhookSecret,
  }),
  log: (entry) => logger.warn(entry),
});

/**
 * Subscribed to the table's stream (NEW_AND_OLD_IMAGES, infra/events.ts): puts each record's
 * image event on the bus, signed for the webhooks, and purges what the TTL removed. Answers the
 * first record that failed, so Lambda retries the batch from there (ReportBatchItemFailures).
 */
export async function handler(event: DynamoStreamEvent) {
  return consume(event.Records ?? []);
}
