import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { ImageStore } from "@images/core";
import type { AppEnv } from "../app-env.ts";
import { problemResponses } from "../problem.ts";
import { apiReferenceRoute, gatewayThrottled, openApiDocumentRoute, publicSecurity } from "./documents.routes.ts";

const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["service"],
  summary: "Whether the table and the bucket answer",
  description: "Reads the table and the bucket once each: 200 when both answer, 503 when either does not. Public.",
  security: publicSecurity,
  responses: {
    200: {
      description: "Both answer",
      content: {
        "application/json": {
          schema: z.object({ status: z.literal("ok") }).openapi("Health", { example: { status: "ok" } }),
          example: { status: "ok" },
        },
      },
    },
    ...gatewayThrottled,
    ...problemResponses([503, { detail: "storage is not answering" }]),
  },
});

const DOCUMENT_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Images API",
    version: "1.0.0",
    description:
      "Upload images with a title, description and tags; list them by owner, tag and date range; " +
      "view one through a short-lived link; edit and delete your own. Errors are RFC 9457 problem JSON.",
    contact: { name: "The Images API maintainers" },
    // The package is private (package.json): no licence is granted.
    license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
  },
  servers: [
    { url: "http://127.0.0.1:3000", description: "Local: `npm run dev` (PORT changes the port)" },
    {
      url: "https://{apiId}.execute-api.{region}.amazonaws.com",
      description: "Deployed: the stage's API Gateway HTTP API (`apiUrl` in the output of `npx sst deploy`)",
      variables: {
        apiId: { default: "a1b2c3d4e5", description: "The HTTP API's id" },
        region: { default: "eu-west-1", description: "The AWS region the stage is deployed in" },
      },
    },
  ],
  tags: [
    { name: "images", description: "Images and their metadata" },
    { name: "service", description: "Health and documents" },
  ],
};

export function registerSystemRoutes(app: OpenAPIHono<AppEnv>, store: ImageStore): void {
  app.openapi(health, async (c) => {
    await store.health();
    return c.json({ status: "ok" as const }, 200);
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A JWT whose `sub` is the caller's user id.",
  });
  // Served by plain handlers (below; /docs by docs-page.ts); documented here.
  app.openAPIRegistry.registerPath(openApiDocumentRoute);
  app.openAPIRegistry.registerPath(apiReferenceRoute);

  // Built on the first request, never at start-up: most invocations never ask for it.
  let document: unknown;
  app.get("/openapi.json", (c) => {
    document ??= openApiDocument(app);
    return c.json(document);
  });
}

/** The OpenAPI 3.1 document of every route, as the app declares them. */
export function openApiDocument(app: OpenAPIHono<AppEnv>) {
  const document = app.getOpenAPI31Document(DOCUMENT_INFO);
  // One of the upload's two bodies is required; the route leaves it optional only so that
  // the validator for the other content type does not run.
  const upload = document.paths?.["/images/upload"]?.post?.requestBody;
  if (upload && "content" in upload) upload.required = true;
  return document;
}
