import createClient from "openapi-fetch";
import { ApiProblem, problemFrom } from "./problem.ts";
import type { components, paths } from "./schema.ts";

export type Image = components["schemas"]["Image"];
export type ListedImage = components["schemas"]["ListedImage"];
export type ImageWithLinks = components["schemas"]["ImageWithLinks"];
export type ImagePage = components["schemas"]["ImagePage"];
export type ImagePatch = components["schemas"]["ImagePatch"];
export type UploadRequest = components["schemas"]["UploadRequest"];
export type LargeUploadStarted = components["schemas"]["LargeUploadStarted"];
export type ListQuery = NonNullable<paths["/images"]["get"]["parameters"]["query"]>;

/** The typed API client (generated from docs/openapi.json), sending the bearer token `token` gives. */
export function createApiClient(baseUrl: string, token: () => string) {
  const client = createClient<paths>({ baseUrl: baseUrl.replace(/\/+$/, "") });
  client.use({
    onRequest({ request }) {
      request.headers.set("authorization", `Bearer ${token()}`);
      return request;
    },
  });
  return client;
}

export type ApiClient = ReturnType<typeof createApiClient>;

/** The data of a success, or the answer's problem thrown as an ApiProblem. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiProblem(problemFrom(result.response.status, result.error, result.response.statusText || "Error"));
  }
  return result.data as T;
}
