import { createHash } from "node:crypto";
import { startTestStore, type TestStore } from "../../../core/test/support/local-store.ts";
import { createApp } from "../../src/app.ts";
import { localMediaSettings, mountLocalMedia } from "../../src/media/local-media.ts";
import { signDevelopmentToken } from "../../src/development-token.ts";
import { createLogger } from "../../src/logger.ts";

export interface TestApi extends TestStore {
  app: ReturnType<typeof createApp>;
  /** A request as `user` (a development token), or with no token when user is null. */
  call(method: string, path: string, options?: CallOptions): Promise<Response>;
  upload(
    user: string | null,
    file: Uint8Array,
    fields?: UploadFields,
    headers?: Record<string, string>,
  ): Promise<Response>;
}

interface CallOptions {
  user?: string | null;
  token?: string;
  json?: unknown;
  body?: RequestInit["body"];
  headers?: Record<string, string>;
}

export interface UploadFields {
  title?: string;
  description?: string;
  tags?: string | string[];
  fileName?: string;
  fileType?: string;
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** The app on a test store, driven through app.request(). */
export async function startTestApi(
  overrides: Record<string, string> = {},
  logs?: { write(line: string): void },
  options: { autoFinish?: boolean; localMedia?: boolean } = {},
): Promise<TestApi> {
  // app.request() answers for http://localhost, where the rendition URLs point.
  const store = await startTestStore({ ...localMediaSettings("http://localhost"), ...overrides }, options);
  const logger = logs ? createLogger({ destination: logs }) : createLogger({ level: "silent" });
  const app = createApp({ config: store.config, store: store.store, logger });
  if (options.localMedia !== false) mountLocalMedia(app, store.clients.s3, store.config.bucketName);

  async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    const user = options.user === undefined ? "alice" : options.user;
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    else if (user !== null) headers.authorization = `Bearer ${await signDevelopmentToken(user)}`;
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] ??= "application/json";
    }
    return app.request(path, { method, headers, body });
  }

  async function upload(
    user: string | null,
    file: Uint8Array,
    fields: UploadFields = {},
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const form = new FormData();
    form.append(
      "file",
      new Blob([file], { type: fields.fileType ?? "application/octet-stream" }),
      fields.fileName ?? "upload.bin",
    );
    if (fields.title !== undefined) form.append("title", fields.title);
    if (fields.description !== undefined) form.append("description", fields.description);
    for (const tag of [fields.tags ?? []].flat()) form.append("tags", tag);
    return call("POST", "/images/upload", { user, body: form, headers });
  }

  // Per-user upload counters move with every attempt, refused ones too (so refusals cannot be
  // repeated for free): they are bookkeeping, not something the request stored.
  async function snapshot() {
    const all = await store.snapshot();
    return { ...all, items: all.items.filter((item) => item.__edb_e__ !== "rateWindow") };
  }

  return { ...store, snapshot, app, call, upload };
}

/** Asserts a problem+json answer and returns its body. */
export async function problemOf(response: Response, status: number) {
  const body = (await response.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    errors?: { path: string; message: string }[];
  };
  if (response.status !== status)
    throw new Error(`expected ${status}, got ${response.status}: ${JSON.stringify(body)}`);
  if (!response.headers.get("content-type")?.startsWith("application/problem+json")) {
    throw new Error(`expected problem+json, got ${response.headers.get("content-type")}`);
  }
  if (body.status !== status || body.type !== "about:blank" || !body.title || !body.detail) {
    throw new Error(`not a problem document: ${JSON.stringify(body)}`);
  }
  return body;
}
