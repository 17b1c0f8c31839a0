import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "../errors.ts";

/** Where the next page starts: the key of the last item returned, and its month bucket. */
export interface CursorPosition {
  month?: string;
  key: Record<string, string>;
}

interface Payload extends CursorPosition {
  v: 1;
  /** Digest of the filter the cursor was made for. */
  f: string;
}

const badCursor = () =>
  new AppError("invalid", "cursor is not valid for this listing", {
    issues: [{ path: "cursor", message: "is not a cursor of this listing" }],
  });

const sign = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest().subarray(0, 16);

/** A short digest of the filter's values, so a cursor cannot be reused with another filter. */
export function filterDigest(values: readonly (string | null | undefined)[]): string {
  return createHash("sha256")
    .update(JSON.stringify(values.map((value) => value ?? null)))
    .digest("base64url")
    .slice(0, 16);
}

/** Opaque to clients: the position in base64url JSON, then an HMAC over it. */
export function encodeCursor(secret: string, digest: string, position: CursorPosition): string {
  const payload: Payload = { v: 1, f: digest, ...position };
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${body}.${sign(secret, body).toString("base64url")}`;
}

export function decodeCursor(secret: string, digest: string, cursor: string): CursorPosition {
  const [body, mac, ...rest] = cursor.split(".");
  if (!body || !mac || rest.length > 0) throw badCursor();
  const expected = sign(secret, body);
  const given = Buffer.from(mac, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badCursor();
  let payload: Partial<Payload>;
  try {
    payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Partial<Payload>;
  } catch {
    throw badCursor();
  }
  if (payload.v !== 1 || payload.f !== digest || typeof payload.key !== "object" || !payload.key) {
    throw badCursor();
  }
  return { month: payload.month, key: payload.key };
}
