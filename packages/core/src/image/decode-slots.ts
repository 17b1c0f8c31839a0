import { AppError } from "../errors.ts";

/**
 * Bounds how many images one process decodes at once: a Lambda instance serves one request at a
 * time, but the dev server and the Compose server serve many in one process, and each decode
 * can take hundreds of MiB. Work beyond the bound waits its turn, in order; past `maxWaiting`
 * waiting, a request is told to come back (503 with Retry-After) rather than queue without end.
 */
export function createDecodeSlots(limit: number, maxWaiting = 64) {
  let running = 0;
  const waiting: (() => void)[] = [];

  return async function withDecodeSlot<T>(work: () => Promise<T>): Promise<T> {
    if (running < limit) {
      running += 1;
    } else {
      if (waiting.length >= maxWaiting) {
        throw new AppError("unavailable", "the service is busy decoding other images; try again shortly", {
          retryAfterSeconds: 1,
        });
      }
      // The slot is handed over by the one that finishes, so `running` does not change.
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

export type DecodeSlots = ReturnType<typeof createDecodeSlots>;
