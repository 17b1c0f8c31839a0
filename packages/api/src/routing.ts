import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.ts";
import { problemBody, PROBLEM_CONTENT_TYPE } from "./problem.ts";

/** A path the app serves, and the methods it answers there. */
interface Resource {
  pattern: RegExp;
  /** Segments, each 0 for a literal, 1 for a parameter, 2 for a wildcard: lower is more specific. */
  rank: number[];
  methods: Set<string>;
  /** The Allow header: its methods, HEAD wherever GET is, and OPTIONS. */
  allow: string;
}

/**
 * Every path some endpoint serves, most specific first: `/images/upload` is matched before
 * `/images/:image_id`, as Hono's router matches them. Middleware is registered for all methods
 * (method ALL), or on an endpoint's own method and path, so only endpoints show here.
 */
export function resourcesOf(routes: readonly { method: string; path: string }[]): Resource[] {
  const byPath = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    if (method === "ALL") continue;
    byPath.set(path, (byPath.get(path) ?? new Set()).add(method));
  }
  const resources = [...byPath].map(([path, methods]): Resource => {
    const segments = path.split("/").slice(1);
    const allowed = new Set([...methods, ...(methods.has("GET") ? ["HEAD"] : []), "OPTIONS"]);
    return {
      pattern: new RegExp(
        `^/${segments
          .map((segment) =>
            segment.startsWith(":") ? "[^/]+" : segment === "*" ? ".*" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
          )
          .join("/")}$`,
      ),
      rank: segments.map((segment) => (segment.startsWith(":") ? 1 : segment === "*" ? 2 : 0)),
      methods,
      allow: [...allowed].sort().join(", "),
    };
  });
  const compare = (a: number[], b: number[]) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  };
  return resources.sort((a, b) => compare(a.rank, b.rank));
}

/**
 * Runs before authentication and every route: answers 404 for a path the API does not have
 * (whatever the method), 405 with Allow for a method its path does not have, and OPTIONS with
 * 204 and Allow; a CORS preflight goes to `cors`, which also marks every other answer for an
 * allowed origin. HEAD is answered wherever GET is (Hono runs GET's route without the body).
 * The table is read on the first request, once every route is registered.
 */
export function routing(routes: () => readonly { method: string; path: string }[], cors?: MiddlewareHandler) {
  let resources: Resource[] | undefined;
  const handler: MiddlewareHandler<AppEnv> = async (c, next) => {
    resources ??= resourcesOf(routes());
    const path = c.req.path;
    const resource = resources.find((candidate) => candidate.pattern.test(path));
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;

    if (resource && method === "OPTIONS") {
      c.header("allow", resource.allow);
      const preflight = c.req.header("origin") !== undefined && c.req.header("access-control-request-method");
      if (cors && preflight) return cors(c, next);
      return c.body(null, 204);
    }
    // Marks the answer for an allowed origin, whichever it will be; a no-op for a request without one.
    if (cors) await cors(c, async () => {});
    if (resource && resource.methods.has(method)) return next();

    // Built on the context, so that it carries the headers prepared on it (request id, nosniff, CORS).
    const [status, detail, headers]: [404 | 405, string, Record<string, string>] = resource
      ? [405, `${c.req.method} is not allowed here; use ${resource.allow}`, { allow: resource.allow }]
      : [404, `no route for ${c.req.method} ${path}`, {}];
    return c.body(JSON.stringify(problemBody(status, detail)), status, {
      ...headers,
      "content-type": PROBLEM_CONTENT_TYPE,
    });
  };
  return handler;
}
