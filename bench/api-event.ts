/** An API Gateway HTTP API (payload 2.0) event, as the deployed function receives it. */
export function apiEvent(method: string, path: string, headers: Record<string, string>, body?: Buffer) {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { host: "api.bench.invalid", ...headers },
    requestContext: {
      accountId: "000000000000",
      apiId: "bench",
      domainName: "api.bench.invalid",
      domainPrefix: "api",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "bench" },
      requestId: "bench",
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body ? { body: body.toString("base64"), isBase64Encoded: true } : { isBase64Encoded: false }),
  };
}
