import pino from "pino";

/**
 * Structured JSON logs, one object a line. Tokens and presigned URLs never belong in a log:
 * the fields that could carry them are redacted wherever they appear.
 */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}) {
  return pino(
    {
      level: options.level ?? "info",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["authorization", "*.authorization", "headers.authorization", "download_url", "thumbnail_url", "*.url"],
        censor: "[redacted]",
      },
    },
    options.destination,
  );
}

export type Logger = ReturnType<typeof createLogger>;
