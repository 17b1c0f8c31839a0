import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { randomUUID } from "node:crypto";
import type { Config, ImageStore } from "@images/core";
import type { AppEnv } from "./app-env.ts";
import { createTokenVerifier, requireUser, type TokenVerifier } from "./auth.ts";
import { registerDocs } from "./docs-page.ts";
import { createLogger, type Logger } from "./logger.ts";
import { errorToResponse, problemResponse, validationProblem } from "./problem.ts";
import { acceptBody } from "./request-body.ts";
import { routing } from "./routing.ts";
import { registerImageRoutes } from "./routes/images.handlers.ts";
import { registerSystemRoutes } from "./routes/system.routes.ts";

export interface AppDeps {
  config: Config;
  store: ImageStore;
  /** Defaults to the verifier the configuration names. */
  verifyToken?: TokenVerifier;
  logger?: Logger;
}

const JSON_BODY_LIMIT = 64 * 1024;
/** Room for the form's other fields and boundaries around the file. */
const MULTIPART_OVERHEAD = 64 * 1024;

/** The whole HTTP API; the Lambda handler, the dev server and the tests all build it here. */
export function createApp({ config, store, verifyToken, logger = createLogger() }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error.issues);
    },
  });
  const verify = verifyToken ?? createTokenVerifier(config.auth);

  // The server's own id for each request, in its logs and in the answer's x-request-id. A
  // client's X-Request-Id is logged beside it (clientRequestId), never in its place: two
  // requests must never share an id, and a client must not write what the logs say.
  app.use(async (c, next) => {
    const id = randomUUID();
    c.set("requestId", id);
    c.header("x-request-id", id);
    await next();
  });
  // One line a request, with its request id, never its headers (tokens) or bodies (links).
  app.use(async (c, next) => {
    const started = performance.now();
    // Set before the answer exists, so that c.json() and friends build it with the header:
    // changing an answer after it is built makes Hono copy it (and the Node adapter turn its
    // light answer into a full web Response), a measurable share of a read. Problem answers,
    // built as whole Responses, carry the header themselves (problem.ts).
    c.header("x-content-type-options", "nosniff");
    await next();
    logger.info({
      requestId: c.get("requestId"),
      clientRequestId: clientRequestIdOf(c.req.header("x-request-id")),
      event: "request",
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
      userId: c.get("userId"),
    });
  });
  const corsHeaders =
    config.corsAllowedOrigins.length > 0
      ? cors({
          origin: config.corsAllowedOrigins,
          allowMethods: ["GET", "POST", "PATCH", "DELETE"],
          allowHeaders: ["authorization", "content-type", "idempotency-key"],
          exposeHeaders: ["retry-after", "x-request-id", "location", "allow"],
          maxAge: 600,
        })
      : undefined;
  // 404 and 405 before authentication: which paths and methods exist is public (/openapi.json).
  app.use(routing(() => app.routes, corsHeaders));
  app.onError((error, c) => {
    const log = logger.child({ requestId: c.get("requestId") });
    const response = errorToResponse(error, c, (level, fields) => log[level](fields));
    // problem.ts marks it nosniff; the request id prepared on the context does not reach a whole Response.
    response.headers.set("x-request-id", c.get("requestId"));
    return response;
  });
  // Only reached when an endpoint's own middleware passes a request on that no handler takes.
  app.notFound((c) =>
    problemResponse(404, `no route for ${c.req.method} ${c.req.path}`, {
      headers: { "x-request-id": c.get("requestId") },
    }),
  );

  app.use("/images", requireUser(verify));
  app.use("/images/*", requireUser(verify));
  // On each endpoint's own method and path, so that the routing table (routing.ts) sees no other.
  app.on(
    "POST",
    "/images/upload",
    acceptBody(
      { multipart: config.maxDirectUploadBytes + MULTIPART_OVERHEAD, json: JSON_BODY_LIMIT },
      {
        // Said as the store says a file just over the limit (image-store.ts): the size and the way on.
        multipart:
          `the file is over the ${+(config.maxDirectUploadBytes / 2 ** 20).toFixed(2)} MiB a direct upload takes: ` +
          "send it in the JSON mode (application/json with its content_type and size_bytes, then the presigned POST it answers)",
      },
    ),
  );
  app.on("PATCH", "/images/:image_id", acceptBody({ json: JSON_BODY_LIMIT }));
  app.on("POST", "/images/check", acceptBody({ json: JSON_BODY_LIMIT }));

  registerImageRoutes(app, store);
  // Before the system routes: its /docs page, with Scalar's script served from here, answers first.
  registerDocs(app);
  registerSystemRoutes(app, store);
  return app;
}

export type App = ReturnType<typeof createApp>;

/** A client's X-Request-Id as the logs keep it: at most 128 visible ASCII characters, others as "_". */
function clientRequestIdOf(value: string | undefined): string | undefined {
  return value?.slice(0, 128).replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, "_");
}
