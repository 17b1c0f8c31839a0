import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import type { Config, ImageStore } from "@images/core";
import type { AppEnv } from "./app-env.ts";
import { createTokenVerifier, requireUser, type TokenVerifier } from "./auth.ts";
import { createLogger, type Logger } from "./logger.ts";
import { errorToResponse, problemResponse, validationProblem } from "./problem.ts";
import { acceptBody } from "./request-body.ts";
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

  app.use(requestId());
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
      event: "request",
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
      userId: c.get("userId"),
    });
  });
  if (config.corsAllowedOrigins.length > 0) {
    app.use(
      cors({
        origin: config.corsAllowedOrigins,
        allowMethods: ["GET", "POST", "PATCH", "DELETE"],
        allowHeaders: ["authorization", "content-type", "idempotency-key"],
        exposeHeaders: ["retry-after", "x-request-id", "location"],
        maxAge: 600,
      }),
    );
  }
  app.onError((error, c) => {
    const log = logger.child({ requestId: c.get("requestId") });
    const response = errorToResponse(error, c, (level, fields) => log[level](fields));
    // problem.ts marks it nosniff; the request id prepared on the context does not reach a whole Response.
    response.headers.set("x-request-id", c.get("requestId"));
    return response;
  });
  app.notFound((c) => {
    // Whole Responses do not take the headers prepared on the context: the request id goes in here.
    const requestId = { "x-request-id": c.get("requestId") };
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0) {
      return problemResponse(405, `${c.req.method} is not allowed here`, {
        headers: { ...requestId, allow: allowed.join(", ") },
      });
    }
    return problemResponse(404, `no route for ${c.req.method} ${c.req.path}`, { headers: requestId });
  });

  app.use("/images", requireUser(verify));
  app.use("/images/*", requireUser(verify));
  // On each endpoint's own method and path, so that the routing table (routing.ts) sees no other.
  app.on(
    "POST",
    "/images/upload",
    acceptBody({ multipart: config.maxDirectUploadBytes + MULTIPART_OVERHEAD, json: JSON_BODY_LIMIT }),
  );
  app.on("PATCH", "/images/:image_id", acceptBody({ json: JSON_BODY_LIMIT }));

  registerImageRoutes(app, store);
  registerSystemRoutes(app, store);
  return app;
}

export type App = ReturnType<typeof createApp>;

/** The methods some route serves at `path`, for a 405's Allow header. */
function allowedMethods(app: OpenAPIHono<AppEnv>, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const pattern = new RegExp(`^${route.path.replace(/:[^/]+/g, "[^/]+").replace(/\*/g, ".*")}$`);
    if (pattern.test(path)) methods.add(route.method);
  }
  return [...methods].sort();
}
