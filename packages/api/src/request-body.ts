import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { parseMediaType } from "@images/core";
import type { AppEnv, BodyKind } from "./app-env.ts";
import { HttpProblem } from "./problem.ts";

const MEDIA_TYPES: Record<BodyKind, string> = { json: "application/json", multipart: "multipart/form-data" };
/** RFC 2046: 1-70 of these, not ending in a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]$/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

const tooLarge =
  (limit: number, detail = `the request body is over ${limit} bytes`) =>
  () => {
    throw new HttpProblem(413, detail);
  };

/**
 * The body a route takes, by kind, each with its size limit. Reads Content-Type as RFC 9110
 * says (type, subtype and parameter names in any case, whitespace around `;`, quoted values;
 * a boundary's value is case-sensitive), refuses a kind the route does not take, and hands the
 * route's validators the same media type in the one spelling they recognise. Then it refuses a
 * body over its kind's limit while it streams in (with `tooLargeDetails`' word for it, if any), and
 * JSON that is not UTF-8.
 */
export function acceptBody(
  limits: Partial<Record<BodyKind, number>>,
  tooLargeDetails: Partial<Record<BodyKind, string>> = {},
): MiddlewareHandler<AppEnv> {
  const kinds = Object.keys(limits) as BodyKind[];
  const wanted = kinds.map((kind) => MEDIA_TYPES[kind]).join(" or ");
  const limiters = Object.fromEntries(
    kinds.map((kind) => [
      kind,
      bodyLimit({ maxSize: limits[kind]!, onError: tooLarge(limits[kind]!, tooLargeDetails[kind]) }),
    ]),
  ) as Record<BodyKind, MiddlewareHandler>;

  return async (c, next) => {
    const header = c.req.header("content-type");
    if (header === undefined) throw new HttpProblem(415, `send the body as ${wanted}`);
    const mediaType = parseMediaType(header);
    if (!mediaType) throw new HttpProblem(400, "Content-Type: is not a media type");
    const kind = kinds.find((candidate) => MEDIA_TYPES[candidate] === mediaType.essence);
    if (!kind) throw new HttpProblem(415, `${mediaType.essence} is not accepted here; send ${wanted}`);

    let canonical: string = MEDIA_TYPES[kind];
    if (kind === "json") {
      const charset = mediaType.parameters.charset;
      if (charset !== undefined && charset.toLowerCase() !== "utf-8") {
        throw new HttpProblem(415, `JSON is taken in UTF-8 only, not ${charset}`);
      }
    } else {
      const boundary = mediaType.parameters.boundary;
      if (boundary === undefined || !BOUNDARY.test(boundary)) {
        throw new HttpProblem(400, "Content-Type: multipart/form-data needs a boundary of 1-70 characters");
      }
      canonical += `; boundary=${boundary.includes(" ") ? `"${boundary}"` : boundary}`;
    }
    // Rebuilt only when it differs: most clients send the canonical spelling.
    if (header !== canonical) {
      const headers = new Headers(c.req.raw.headers);
      headers.set("content-type", canonical);
      c.req.raw = new Request(c.req.raw, { headers });
    }
    c.set("bodyKind", kind);
    return limiters[kind](c, async () => {
      if (kind === "json") {
        try {
          UTF8.decode(await c.req.arrayBuffer());
        } catch {
          throw new HttpProblem(400, "the body is not valid UTF-8");
        }
      }
      await next();
    });
  };
}
