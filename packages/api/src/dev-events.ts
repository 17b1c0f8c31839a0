import type { AwsClients, Config } from "@images/core";
import type { ChangeRecord } from "@images/core/events/change-record";
import { compareSequence } from "@images/core/events/change-record";
import { createImageEventConsumer } from "@images/core/events/consumer";
import type { ImageEvent } from "@images/core/events/image-events";
import { signEvent } from "@images/core/events/webhook-signature";
import type { ChangeFeed } from "@images/local";
import { Hono } from "hono";
import type { Logger } from "pino";
import { problemResponse } from "./problem.ts";

/**
 * `npm run dev` only: the image events of the embedded store, derived from its change feed by
 * the same consumer as the deployed stream function, kept in order, served at `GET /dev/events`
 * and, with WEBHOOK_URL and WEBHOOK_SECRET, posted there signed as Standard Webhooks says.
 */
export interface DevEventsOptions {
  config: Config;
  clients: AwsClients;
  feed: ChangeFeed;
  logger?: Pick<Logger, "warn" | "info">;
  /** Delivery attempts per event and the first wait between them (doubled each time). */
  webhookAttempts?: number;
  webhookRetryMs?: number;
  /** How long the consumer waits before retrying a record it could not finish (a purge that failed). */
  recordRetryMs?: number;
}

const MAX_PAGE = 1000;

export function createDevEvents(options: DevEventsOptions) {
  const { config, logger } = options;
  const events: ImageEvent[] = [];
  const attempts = options.webhookAttempts ?? 8;
  const retryMs = options.webhookRetryMs ?? 500;
  const recordRetryMs = options.recordRetryMs ?? 1000;
  /** One delivery chain per image, so a receiver gets an image's events in order. */
  const deliveries = new Map<string, Promise<void>>();
  let stopped = false;

  async function post(event: ImageEvent, url: string, secret: string): Promise<void> {
    for (let attempt = 1; attempt <= attempts && !stopped; attempt += 1) {
      // Signed again for each attempt: the timestamp says when this one was sent.
      const signed = signEvent(event, secret);
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/cloudevents+json", ...signed.headers },
          body: signed.body,
          signal: AbortSignal.timeout(10_000),
        });
        await response.body?.cancel();
        if (response.ok) return;
        logger?.warn({ event: "webhook_refused", id: event.id, status: response.status, attempt });
      } catch (error) {
        logger?.warn({ event: "webhook_failed", id: event.id, error: String(error), attempt });
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs * 2 ** (attempt - 1)));
    }
    logger?.warn({ event: "webhook_gave_up", id: event.id, attempts });
  }

  function deliver(event: ImageEvent) {
    const webhook = config.webhook;
    if (!webhook) return;
    const previous = deliveries.get(event.subject) ?? Promise.resolve();
    const next = previous.then(() => post(event, webhook.url, webhook.secret));
    deliveries.set(event.subject, next);
    void next.finally(() => {
      if (deliveries.get(event.subject) === next) deliveries.delete(event.subject);
    });
  }

  const consume = createImageEventConsumer({
    config,
    clients: options.clients,
    publish: async (batch) => {
      for (const event of batch) {
        events.push(event);
        deliver(event);
      }
    },
    log: (entry) => logger?.warn(entry),
  });

  // Records are consumed one at a time in commit order; one that fails is retried until it
  // passes, as Lambda retries a stream batch, and holds back the ones after it.
  let queue: Promise<void> = Promise.resolve();
  const unsubscribe = options.feed.subscribe((record) => {
    queue = queue.then(async () => {
      while (!stopped) {
        const result = await consume([record as unknown as ChangeRecord]).catch(() => ({
          batchItemFailures: [{ itemIdentifier: record.dynamodb.SequenceNumber }],
        }));
        if (result.batchItemFailures.length === 0) return;
        await new Promise((resolve) => setTimeout(resolve, recordRetryMs));
      }
    });
  });

  const routes = new Hono();
  routes.get("/dev/events", async (c) => {
    const after = c.req.query("after");
    const subject = c.req.query("subject");
    const limitText = c.req.query("limit");
    if (after !== undefined && !/^\d+$/.test(after)) {
      return problemResponse(400, "after: must be a sequence number (digits), as an event's `sequence`", {
        issues: [{ path: "after", message: "must be digits" }],
      });
    }
    const limit = limitText === undefined ? MAX_PAGE : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      return problemResponse(400, `limit: must be a whole number from 1 to ${MAX_PAGE}`, {
        issues: [{ path: "limit", message: `must be from 1 to ${MAX_PAGE}` }],
      });
    }
    // Everything the store committed so far has been turned into events before this answers.
    await Promise.race([settled(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    const items = events
      .filter((event) => after === undefined || compareSequence(event.sequence, after) > 0)
      .filter((event) => subject === undefined || event.subject === subject)
      .slice(0, limit);
    return c.json({ items, last_sequence: items.at(-1)?.sequence ?? after ?? null });
  });

  /** Resolves once every record committed so far has its events. */
  async function settled(): Promise<void> {
    let current: Promise<void>;
    do {
      current = queue;
      await current;
    } while (current !== queue);
  }

  return {
    routes,
    events: () => events as readonly ImageEvent[],
    settled,
    /** Resolves once every webhook delivery under way has ended. */
    async delivered(): Promise<void> {
      await settled();
      while (deliveries.size > 0) await Promise.all(deliveries.values());
    },
    stop() {
      stopped = true;
      unsubscribe();
    },
  };
}

export type DevEvents = ReturnType<typeof createDevEvents>;
