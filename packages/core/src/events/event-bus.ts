import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { Config } from "../config.ts";
import { guardLocalEndpoints } from "../aws/endpoint-guard.ts";
import type { ImageEvent } from "./image-events.ts";
import { signEvent, type SignedDelivery } from "./webhook-signature.ts";

/** What each entry on the bus carries in `detail`: the CloudEvent and, when signed, its signature. */
export interface BusDetail {
  event: ImageEvent;
  /**
   * Standard Webhooks' headers for the API destinations' targets, which read them by path
   * ($.detail.webhook.id, ...): an API destination cannot compute an HMAC itself.
   */
  webhook?: { id: string; timestamp: string; signature: string };
}

/** The `source` of every entry this service puts on the bus (rules match on it). */
export const BUS_SOURCE = "images";

/** The EventBridge client, built as the other AWS clients are (aws/clients.ts), endpoint guard and all. */
export function createEventBridgeClient(config: Config, endpoint?: string): EventBridgeClient {
  const client = new EventBridgeClient({
    region: config.region,
    maxAttempts: 3,
    credentials: config.credentials,
    endpoint,
  });
  if (config.localEndpointsOnly) guardLocalEndpoints(client);
  return client;
}

export function busDetail(event: ImageEvent, signed?: SignedDelivery): BusDetail {
  return {
    event,
    ...(signed
      ? {
          webhook: {
            id: signed.headers["webhook-id"],
            timestamp: signed.headers["webhook-timestamp"],
            signature: signed.headers["webhook-signature"],
          },
        }
      : {}),
  };
}

/**
 * Puts events on the bus, ten to a call, each signed with `webhookSecret` when one is set.
 * Throws when EventBridge did not take every entry, so the stream batch is retried (a duplicate
 * carries the same event id).
 */
export function createBusPublisher(options: {
  client: EventBridgeClient;
  busName: string;
  webhookSecret?: string;
  now?: () => Date;
}) {
  const now = options.now ?? (() => new Date());
  return async function publish(events: ImageEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += 10) {
      const chunk = events.slice(start, start + 10);
      const result = await options.client.send(
        new PutEventsCommand({
          Entries: chunk.map((event) => ({
            EventBusName: options.busName,
            Source: BUS_SOURCE,
            DetailType: event.type,
            Time: new Date(event.time ?? 0),
            Detail: JSON.stringify(
              busDetail(event, options.webhookSecret ? signEvent(event, options.webhookSecret, now()) : undefined),
            ),
          })),
        }),
      );
      if ((result.FailedEntryCount ?? 0) > 0) {
        const failed = result.Entries?.find((entry) => entry.ErrorCode);
        throw new Error(`EventBridge refused ${result.FailedEntryCount} event(s): ${failed?.ErrorCode ?? "unknown"}`);
      }
    }
  };
}
