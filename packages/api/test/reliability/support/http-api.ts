import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { startTestApi, type TestApi } from "../../support/test-api.ts";

export interface HttpApi extends TestApi {
  base: string;
  /** The store checker's violations, as "rule: detail" lines, the stored files' digests checked too. */
  violations(): Promise<string[]>;
}

/** The app on a test store, served over real HTTP on a free loopback port. */
export async function startHttpApi(
  overrides: Record<string, string> = {},
  options: { autoFinish?: boolean } = {},
): Promise<HttpApi> {
  const api = await startTestApi(overrides, undefined, options);
  const server = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    ...api,
    base: `http://127.0.0.1:${port}`,
    violations: () => api.violations({ verifyDigests: true }),
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.stop();
    },
  };
}
