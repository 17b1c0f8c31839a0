import { describe, expect, it } from "vitest";
import { AppError, isConditionFailure, isTransientAwsError, toAppError } from "../../src/errors.ts";

const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });

describe("AWS error mapping", () => {
  it.each([
    ["ThrottlingException"],
    ["ProvisionedThroughputExceededException"],
    ["RequestLimitExceeded"],
    ["SlowDown"],
    ["ServiceUnavailable"],
    ["InternalServerError"],
    ["TimeoutError"],
  ])("%s is transient", (name) => {
    expect(isTransientAwsError(named(name))).toBe(true);
    expect(toAppError(named(name), "x")).toMatchObject({ kind: "unavailable" });
  });

  it("treats network failures and 5xx answers as transient, 4xx as not", () => {
    expect(isTransientAwsError(named("Error", { code: "ECONNRESET" }))).toBe(true);
    expect(isTransientAwsError(named("Unknown", { $metadata: { httpStatusCode: 502 } }))).toBe(true);
    expect(isTransientAwsError(named("AccessDenied", { $metadata: { httpStatusCode: 403 } }))).toBe(false);
    expect(isTransientAwsError(undefined)).toBe(false);
  });

  it("takes a Query on an index that a deploy is building for a wait, other refusals not", () => {
    const building = (message: string) => named("ValidationException", { message, $metadata: { httpStatusCode: 400 } });
    expect(isTransientAwsError(building("Cannot read from backfilling global secondary index: gsi1"))).toBe(true);
    expect(isTransientAwsError(building("The table does not have the specified index: gsi1"))).toBe(true);
    expect(toAppError(building("Cannot read from backfilling global secondary index: gsi1"), "x")).toMatchObject({
      kind: "unavailable",
    });
    expect(isTransientAwsError(building("One or more parameter values were invalid"))).toBe(false);
  });

  it("sees through ElectroDB's wrapper", () => {
    const wrapped = named("ElectroError", { cause: named("ConditionalCheckFailedException") });
    expect(isConditionFailure(wrapped)).toBe(true);
    expect(isTransientAwsError(named("ElectroError", { cause: named("ThrottlingException") }))).toBe(true);
  });

  it("reads a cancelled transaction's reasons", () => {
    const cancelled = (code: string) =>
      named("TransactionCanceledException", { CancellationReasons: [{ Code: "None" }, { Code: code }] });
    expect(isConditionFailure(cancelled("ConditionalCheckFailed"))).toBe(true);
    expect(isConditionFailure(cancelled("ThrottlingError"))).toBe(false);
    expect(isTransientAwsError(cancelled("ThrottlingError"))).toBe(true);
    expect(isTransientAwsError(cancelled("TransactionConflict"))).toBe(true);
  });

  it("passes domain errors and unknown errors through untouched", () => {
    const domain = new AppError("not_found", "no such image");
    expect(toAppError(domain, "x")).toBe(domain);
    const unknown = named("ValidationException", { $metadata: { httpStatusCode: 400 } });
    expect(toAppError(unknown, "x")).toBe(unknown);
  });

  it("never puts the SDK's message in what a client sees", () => {
    const mapped = toAppError(
      named("ThrottlingException", { message: "arn:aws:dynamodb:secret-table" }),
      "listing",
    ) as AppError;
    expect(mapped.message).not.toContain("arn:");
  });
});
