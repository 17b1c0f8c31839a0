import {
  ApiProblem,
  createApiClient,
  problemFrom,
  unwrap as unwrapResult,
  type Image,
  type ImagePatch,
  type ImageWithLinks,
  type ListQuery,
} from "@images/client";

export type { Image, ImagePage, ImagePatch, ImageWithLinks, ListedImage, ListQuery } from "@images/client";

/** Multipart uploads carry files up to this size; larger ones go straight to S3 (README, "Two ways to upload"). */
export const DIRECT_UPLOAD_LIMIT = 4 * 1024 * 1024;

export interface UploadMetadata {
  title: string;
  tags: string[];
}

export interface UploadCallbacks {
  onProgress(sentBytes: number, totalBytes: number): void;
  onPhase(phase: "uploading" | "checking"): void;
}

/** The API looks up at most this many digests a request. */
const CHECK_BATCH = 100;

/** The sha256 of a file's bytes, hex; null where the browser has no Web Crypto (not a secure context). */
export async function fileSha256(file: Blob): Promise<string | null> {
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Everything the gallery asks of the API, typed from docs/openapi.json. */
export function createGalleryApi(apiUrl: string, token: () => string, onUnauthorized: (error: ApiProblem) => void) {
  const client = createApiClient(apiUrl, token);

  /** The data of a success; a problem is thrown, and a 401 also signs the visitor out. */
  function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
    try {
      return unwrapResult(result);
    } catch (error) {
      if (error instanceof ApiProblem && error.status === 401) onUnauthorized(error);
      throw error;
    }
  }

  const path = (imageId: string) => ({ params: { path: { image_id: imageId } } });

  async function getImage(imageId: string): Promise<ImageWithLinks> {
    return unwrap(await client.GET("/images/{image_id}", path(imageId)));
  }

  /** Polls a file sent to S3 until the service has checked it: ready, or failed with a reason. */
  async function waitUntilChecked(imageId: string, timeoutMs = 5 * 60_000): Promise<ImageWithLinks> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const image = await getImage(imageId);
      if (image.status !== "pending" || Date.now() > deadline) return image;
      await new Promise((done) => setTimeout(done, 1000));
    }
  }

  /**
   * Uploads one file: multipart to the API up to DIRECT_UPLOAD_LIMIT, else the JSON mode's
   * presigned POST straight to S3 and a wait for the check. Answers the image as it ends.
   */
  async function uploadImage(file: File, metadata: UploadMetadata, callbacks: UploadCallbacks, sha256?: string) {
    const idempotencyKey = crypto.randomUUID();
    callbacks.onPhase("uploading");
    // The same file dropped twice, or uploaded from elsewhere since the check: stored once.
    const onDuplicate = "return" as const;
    if (file.size <= DIRECT_UPLOAD_LIMIT) {
      const form = new FormData();
      form.append("title", metadata.title);
      for (const tag of metadata.tags) form.append("tags", tag);
      form.append("file", file, file.name);
      const answer = await sendForm(`${apiUrl}/images/upload?on_duplicate=${onDuplicate}`, form, callbacks.onProgress, {
        authorization: `Bearer ${token()}`,
        "idempotency-key": idempotencyKey,
      });
      if (answer.status === 201 || answer.status === 200) return answer.body as Image;
      const error = new ApiProblem(problemFrom(answer.status, answer.body, "Upload refused"));
      if (error.status === 401) onUnauthorized(error);
      // Over the limit this deployment sets for multipart: the other mode takes it.
      if (error.status !== 413) throw error;
    }

    const started = unwrap(
      await client.POST("/images/upload", {
        headers: { "idempotency-key": `${idempotencyKey}-large` },
        params: { query: { on_duplicate: onDuplicate } },
        body: {
          title: metadata.title,
          tags: metadata.tags,
          content_type: file.type || "application/octet-stream",
          size_bytes: file.size,
          ...(sha256 ? { sha256 } : {}),
        },
      }),
    );
    if (!("upload" in started)) return started;
    const form = new FormData();
    for (const [name, value] of Object.entries(started.upload.fields)) form.append(name, value);
    form.append("file", file, file.name);
    const stored = await sendForm(started.upload.url, form, callbacks.onProgress);
    if (stored.status < 200 || stored.status >= 300) {
      const message =
        typeof stored.body === "string" ? /<Message>([^<]*)<\/Message>/.exec(stored.body)?.[1] : undefined;
      throw new ApiProblem({
        type: "about:blank",
        title: "Storage refused the file",
        status: stored.status,
        detail: `the storage service refused the file (HTTP ${stored.status})${message ? `: ${message}` : ""}`,
      });
    }
    callbacks.onPhase("checking");
    return waitUntilChecked(started.image.image_id);
  }

  /** Which of these digests the visitor already has an image for: digest to image id. */
  async function knownDigests(digests: string[]): Promise<Map<string, string>> {
    const known = new Map<string, string>();
    const unique = [...new Set(digests)];
    for (let start = 0; start < unique.length; start += CHECK_BATCH) {
      const answer = unwrap(
        await client.POST("/images/check", { body: { sha256: unique.slice(start, start + CHECK_BATCH) } }),
      );
      for (const { sha256, image_id } of answer.known) known.set(sha256, image_id);
    }
    return known;
  }

  return {
    listImages: async (query: ListQuery) => unwrap(await client.GET("/images", { params: { query } })),
    listTrash: async (query: { limit?: number; cursor?: string }) =>
      unwrap(await client.GET("/images", { params: { query: { ...query, trashed: "true" } } })),
    trashImage: async (imageId: string) => unwrap(await client.POST("/images/{image_id}/trash", path(imageId))),
    restoreImage: async (imageId: string) => unwrap(await client.POST("/images/{image_id}/restore", path(imageId))),
    knownDigests,
    getImage,
    updateImage: async (imageId: string, patch: ImagePatch) =>
      unwrap(await client.PATCH("/images/{image_id}", { ...path(imageId), body: patch })),
    deleteImage: async (imageId: string) => {
      unwrap(await client.DELETE("/images/{image_id}", path(imageId)));
    },
    uploadImage,
  };
}

export type GalleryApi = ReturnType<typeof createGalleryApi>;

/**
 * POSTs a form with XMLHttpRequest, the one browser API that reports upload progress. The body
 * is parsed as JSON when it is JSON; status 0 means the request never got an answer.
 */
export function sendForm(
  url: string,
  form: FormData,
  onProgress: (sent: number, total: number) => void,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      let body: unknown = xhr.responseText;
      if (/json/.test(xhr.getResponseHeader("content-type") ?? "")) {
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          // Keep the text.
        }
      }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => resolve({ status: 0, body: "" }));
    xhr.addEventListener("abort", () => resolve({ status: 0, body: "" }));
    xhr.send(form);
  });
}
