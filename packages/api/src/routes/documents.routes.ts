import { createRoute, z } from "@hono/zod-openapi";

/**
 * The public routes' OpenAPI metadata: /health (its route is in system.routes.ts), and the
 * documents (/openapi.json, /docs), which are served by plain handlers and documented here.
 */

/**
 * Deployed, API Gateway's throttle for the whole API (infra/settings.ts: 200 requests a second,
 * bursts of 400, by default) answers before the function, with its own body: the one client
 * error a public route can get.
 */
export const gatewayThrottled = {
  429: {
    description:
      "Deployed only: API Gateway's limit for the whole API (200 requests a second, bursts of 400, by default) " +
      "refused the request before it reached the service; its own JSON body, not problem JSON.",
    content: {
      "application/json": {
        schema: z
          .object({ message: z.string().openapi({ example: "Too Many Requests" }) })
          .openapi("GatewayMessage", { description: "An answer API Gateway gives itself." }),
        example: { message: "Too Many Requests" },
      },
    },
  },
} as const;

/** Public: no token. */
export const publicSecurity: Record<string, string[]>[] = [];

const OpenApiDocument = z
  .looseObject({
    openapi: z.string().openapi({ example: "3.1.0" }),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.looseObject({})),
  })
  .openapi("OpenApiDocument", { description: "An OpenAPI 3.1 document: this one." });

export const openApiDocumentRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  operationId: "getOpenApiDocument",
  tags: ["service"],
  summary: "This OpenAPI document",
  description:
    "The OpenAPI 3.1 document of every route, generated from the route definitions (docs/openapi.json is the " +
    "same, written by `npm run docs`). Public.",
  security: publicSecurity,
  responses: {
    200: {
      description: "The document",
      content: {
        "application/json": {
          schema: OpenApiDocument,
          example: {
            openapi: "3.1.0",
            info: { title: "Images API", version: "1.0.0" },
            paths: {
              "/health": { get: { operationId: "getHealth", summary: "Whether the table and the bucket answer" } },
            },
          },
        },
      },
    },
    ...gatewayThrottled,
  },
});

export const apiReferenceRoute = createRoute({
  method: "get",
  path: "/docs",
  operationId: "getApiReference",
  tags: ["service"],
  summary: "The interactive API reference",
  description:
    "An HTML page (Scalar) over /openapi.json, for a browser; it loads nothing from another host (its script is " +
    "/docs/scalar.js, from the pinned @scalar/api-reference package). Public.",
  security: publicSecurity,
  responses: {
    200: {
      description: "The page",
      content: {
        "text/html": {
          schema: z.string().openapi({ description: "An HTML document." }),
          example:
            '<!doctype html>\n<html>\n  <head>\n    <title>Images API</title>\n    <meta charset="utf-8" />\n' +
            '  </head>\n  <body>\n    <div id="app"></div>\n' +
            '    <script src="/docs/scalar.js?v=783f87b5a93b65bd"></script>\n' +
            '    <script type="text/javascript">\n' +
            '      Scalar.createApiReference(\'#app\', { "url": "/openapi.json", "telemetry": false })\n' +
            "    </script>\n  </body>\n</html>\n",
        },
      },
    },
    ...gatewayThrottled,
    503: {
      description: "Deployed without the reference's script: a page that says so and links /openapi.json",
      content: {
        "text/html": {
          schema: z.string().openapi({ description: "An HTML document." }),
          example:
            '<!doctype html><html><head><meta charset="utf-8"><title>Images API</title></head><body>' +
            "<p>The API reference's script is not deployed with this server. The OpenAPI document is at " +
            '<a href="/openapi.json">/openapi.json</a>.</p></body></html>',
        },
      },
    },
  },
});
