/**
 * One error type for the domain. The kind says what went wrong in terms a caller can act on;
 * only the HTTP layer turns kinds into statuses. Messages are safe to show to a client.
 */
export type ErrorKind =
  | "invalid"
  | "not_found"
  | "conflict"
  | "unsupported_type"
  | "undecodable"
  | "too_large"
  | "rate_limited"
  | "unavailable";

export interface Issue {
  path: string;
  message: string;
}

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details: {
      issues?: Issue[];
      retryAfterSeconds?: number;
      cause?: unknown;
      /** A refused duplicate upload: the caller's image uploaded as the same file. */
      existingImageId?: string;
    } = {},
  ) {
    super(message, { cause: details.cause });
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "SlowDown",
  "ServiceUnavailable",
  "InternalServerError",
  "InternalError",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
]);
/** DynamoDB's words for a Query on an index that is being created or filled. */
const INDEX_BEING_BUILT = /backfilling global secondary index|does not have the specified index/i;
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

interface AwsLikeError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  CancellationReasons?: { Code?: string }[];
}

/** ElectroDB wraps what the SDK threw; the SDK's error is what says what happened. */
function awsErrorOf(error: unknown): AwsLikeError | undefined {
  let current = error as (AwsLikeError & { cause?: unknown }) | undefined;
  while (current?.name === "ElectroError" && current.cause) current = current.cause as typeof current;
  return current && typeof current === "object" ? current : undefined;
}

/** The codes DynamoDB gave for each action of a cancelled transaction. */
export function cancellationCodes(error: unknown): string[] {
  const e = awsErrorOf(error);
  if (e?.name !== "TransactionCanceledException") return [];
  return (e.CancellationReasons ?? []).map((reason) => reason.Code ?? "None");
}

/** A conditional write or a transaction failed on one of its conditions. */
export function isConditionFailure(error: unknown): boolean {
  const e = awsErrorOf(error);
  if (e?.name === "ConditionalCheckFailedException") return true;
  return cancellationCodes(error).includes("ConditionalCheckFailed");
}

/** DynamoDB or S3 is throttling, failing, or out of reach: the client should retry later. */
export function isTransientAwsError(error: unknown): boolean {
  const e = awsErrorOf(error);
  if (!e) return false;
  if (e.name && THROTTLING.has(e.name)) return true;
  if (e.code && NETWORK.has(e.code)) return true;
  const codes = cancellationCodes(error);
  if (codes.some((code) => code === "ThrottlingError" || code === "TransactionConflict")) return true;
  // An index being built (a deploy that changed what it holds) cannot be read until it is ACTIVE.
  if (e.name === "ValidationException" && INDEX_BEING_BUILT.test(e.message ?? "")) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/**
 * Wraps what a store call threw: domain errors pass through, transient AWS failures become
 * `unavailable`, and anything else is rethrown as it is (a 500 whose details stay in the logs).
 */
export function toAppError(error: unknown, what: string): unknown {
  if (isAppError(error)) return error;
  if (isTransientAwsError(error)) return storageUnavailable(what, error);
  return error;
}

/** DynamoDB or S3 could not do `what` now: a 503 that asks the client to retry in a second. */
export const storageUnavailable = (what: string, cause?: unknown) =>
  new AppError("unavailable", `${what}: storage is busy or unavailable, try again`, { retryAfterSeconds: 1, cause });
