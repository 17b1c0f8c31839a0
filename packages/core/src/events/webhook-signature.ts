import { Webhook } from "standardwebhooks";
import { eventBody, type ImageEvent } from "./image-events.ts";

/** The three headers Standard Webhooks puts on a delivery, and the exact body they sign. */
export interface SignedDelivery {
  body: string;
  headers: {
    "webhook-id": string;
    "webhook-timestamp": string;
    "webhook-signature": string;
  };
}

/**
 * Signs one event as Standard Webhooks says: the message id is the event's id (so a receiver
 * drops a redelivery by it), the timestamp is when it was signed, in epoch seconds; `secret` is
 * "whsec_" and the base64 of the key. The signature covers `body` byte for byte.
 */
export function signEvent(event: ImageEvent, secret: string, now: Date = new Date()): SignedDelivery {
  const body = eventBody(event);
  // Whole seconds: the header carries seconds, and the signature must match what it says.
  const signedAt = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const signature = new Webhook(secret).sign(event.id, signedAt, body);
  return {
    body,
    headers: {
      "webhook-id": event.id,
      "webhook-timestamp": String(signedAt.getTime() / 1000),
      "webhook-signature": signature,
    },
  };
}
