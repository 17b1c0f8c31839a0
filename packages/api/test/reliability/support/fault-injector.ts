import type { AwsClients } from "@images/core";

/** When an injected fault strikes: before the call is sent, or after it took effect. */
export type FaultTiming = "before" | "after";

interface Plan {
  index: number;
  timing: FaultTiming;
}

const faultFor = (client: "dynamo" | "s3", timing: FaultTiming) =>
  timing === "after"
    ? Object.assign(new Error("injected: the answer was lost"), { name: "TimeoutError" })
    : client === "dynamo"
      ? Object.assign(new Error("injected throttling"), {
          name: "ThrottlingException",
          $metadata: { httpStatusCode: 400 },
        })
      : Object.assign(new Error("injected slow down"), { name: "SlowDown", $metadata: { httpStatusCode: 503 } });

/**
 * An SDK middleware on both clients that numbers every DynamoDB and S3 call and can fail the
 * n-th one: as throttling before it is sent, or as a lost answer after it took effect.
 */
export function installFaultInjector(clients: AwsClients) {
  let calls: string[] = [];
  let plan: Plan | undefined;
  let injected = 0;
  for (const name of ["dynamo", "s3"] as const) {
    const stack = clients[name].middlewareStack as unknown as {
      add(middleware: unknown, options: { step: string; name: string }): void;
    };
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        const index = calls.length;
        calls.push(`${name}:${context.commandName ?? "?"}`);
        const strike = plan?.index === index ? plan.timing : undefined;
        if (strike === "before") {
          injected += 1;
          throw faultFor(name, "before");
        }
        const result = await next(args);
        if (strike === "after") {
          injected += 1;
          throw faultFor(name, "after");
        }
        return result;
      },
      { step: "initialize", name: `faultInjector-${name}` },
    );
  }
  return {
    /** Records the calls `action` makes, with no fault. */
    async record(action: () => Promise<unknown>): Promise<string[]> {
      calls = [];
      plan = undefined;
      await action();
      return [...calls];
    },
    /** Runs `action` with the `index`-th call failing; returns what it returned or threw. */
    async failing<T>(index: number, timing: FaultTiming, action: () => Promise<T>): Promise<T> {
      calls = [];
      plan = { index, timing };
      try {
        return await action();
      } finally {
        plan = undefined;
      }
    },
    get injected() {
      return injected;
    },
  };
}
