import type { FinalizeRequestMiddleware, MiddlewareStack } from "@smithy/types";

/** Host names that stand for an emulator on this machine or in the Compose network. */
const LOCAL_HOST_NAMES = new Set(["localhost", "localstack", "host.docker.internal"]);

export function isLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (LOCAL_HOST_NAMES.has(host) || host.endsWith(".localhost")) return true;
  if (host === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export class EndpointGuardError extends Error {
  override name = "EndpointGuardError";
}

/**
 * Refuses, before anything is sent, every request whose host is not local: tests and the dev
 * server can never reach a real AWS account, whatever credentials the machine holds.
 */
export function guardLocalEndpoints(client: {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  middlewareStack: MiddlewareStack<any, any>;
}): void {
  const guard: FinalizeRequestMiddleware<object, object> = (next) => async (args) => {
    const request = args.request as { hostname?: string } | undefined;
    const hostname = request?.hostname ?? "";
    if (!isLocalHost(hostname)) {
      throw new EndpointGuardError(`refused to send an AWS request to ${hostname}: local endpoints only`);
    }
    return next(args);
  };
  client.middlewareStack.add(guard, { step: "finalizeRequest", name: "localEndpointGuard", priority: "high" });
}
