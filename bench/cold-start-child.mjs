/**
 * One cold start: a fresh Node process imports a bundle and reports, as one JSON line, how long
 * the import took (module compile, evaluation and the handler's initialisation), how long since
 * the process started, and which markers heavy modules left (see cold-start.ts). With "probe", it
 * then serves GET /openapi.json and an unauthenticated GET /images through the handler, as
 * API Gateway would, to show what those first requests cost and build.
 */
import { pathToFileURL } from "node:url";

globalThis.__benchMarks = [];
const started = performance.now();
const module = await import(pathToFileURL(process.argv[2]).href);
const loaded = performance.now();
const report = {
  processStartMs: started,
  importMs: loaded - started,
  sinceProcessStartMs: loaded,
  handlerExported: typeof module.handler === "function",
  markersAtLoad: [...globalThis.__benchMarks],
  rssBytes: process.memoryUsage().rss,
};

const event = (path) => ({
  version: "2.0",
  routeKey: "$default",
  rawPath: path,
  rawQueryString: "",
  headers: { host: "api.bench.invalid", "user-agent": "bench" },
  requestContext: {
    accountId: "000000000000",
    apiId: "bench",
    domainName: "api.bench.invalid",
    domainPrefix: "api",
    http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "bench" },
    requestId: "bench",
    routeKey: "$default",
    stage: "$default",
    time: new Date().toUTCString(),
    timeEpoch: Date.now(),
  },
  isBase64Encoded: false,
});

if (process.argv[3] === "probe") {
  const probes = [];
  for (const path of ["/images", "/openapi.json", "/openapi.json"]) {
    const before = performance.now();
    const response = await module.handler(event(path), {});
    probes.push({
      path,
      status: response.statusCode,
      ms: performance.now() - before,
      markers: [...globalThis.__benchMarks],
    });
  }
  report.probes = probes;
}
process.stdout.write(`${JSON.stringify(report)}\n`);
