import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiProblem, problemFrom, unwrap, type ApiClient, type Image, type ImageWithLinks } from "@images/client";
import type { Session } from "./client.ts";
import type { LocalFile } from "./files.ts";
import { postForm, type FormAnswer } from "./multipart.ts";

/** Multipart uploads carry files up to this size; larger ones go straight to S3 (README, "Two ways to upload"). */
export const DIRECT_UPLOAD_LIMIT = 4 * 1024 * 1024;

export interface UploadMetadata {
  title: string;
  description?: string;
  tags: string[];
}

export type UploadPhase = "uploading" | "checking";

/** What the API does with a file the account already has (`on_duplicate`). */
export type OnDuplicate = "store" | "reject" | "return";

/** The API looks up at most this many digests a request. */
const CHECK_BATCH = 100;

export interface UploadOptions {
  onPhase?: (phase: UploadPhase) => void;
  onProgress?: (sentBytes: number) => void;
  /** How often and how long to wait for a file sent to S3 to be checked. */
  pollIntervalMs?: number;
  pollTimeoutMs?: number;
  /** Answers 429 and 503 are tried again this many times, after their Retry-After. */
  retries?: number;
  /** Sent as `on_duplicate`; the API's default (store) when left out. */
  onDuplicate?: OnDuplicate;
  /** The file's sha256, when known: a large upload's start sends it, so a duplicate is answered before any byte goes. */
  sha256?: string;
}

/** The sha256 of a file's bytes, read from disk in a stream. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Which of these digests the account already has an image for (`POST /images/check`, 100 at a
 * time): digest to image id. An API without the endpoint (404) knows none, so every file is sent.
 */
export async function knownDigests(client: ApiClient, digests: string[]): Promise<Map<string, string>> {
  const known = new Map<string, string>();
  const unique = [...new Set(digests)];
  for (let start = 0; start < unique.length; start += CHECK_BATCH) {
    const result = await client.POST("/images/check", { body: { sha256: unique.slice(start, start + CHECK_BATCH) } });
    if (result.response.status === 404) return known;
    for (const { sha256, image_id } of unwrap(result).known) known.set(sha256, image_id);
  }
  return known;
}

/**
 * Uploads one file and answers the image as it ends: `ready`, or `failed` with its
 * failure_reason. Small files go in one multipart request; larger ones (or any the API finds too
 * large for that) get a presigned POST and go straight to S3, then the image is polled until
 * the service has checked it. Problems are thrown as ApiProblem.
 */
export async function uploadFile(
  session: Session,
  client: ApiClient,
  file: LocalFile,
  metadata: UploadMetadata,
  options: UploadOptions = {},
): Promise<Image | ImageWithLinks> {
  // One key per file: a retry after a lost answer cannot store the file twice.
  const idempotencyKey = randomUUID();
  const retries = options.retries ?? 3;
  options.onPhase?.("uploading");
  if (file.size <= DIRECT_UPLOAD_LIMIT) {
    const query = options.onDuplicate ? `?on_duplicate=${options.onDuplicate}` : "";
    const answer = await withRetries(retries, () =>
      postForm(`${apiBase(session)}/images/upload${query}`, multipartFields(metadata), file, {
        headers: { authorization: `Bearer ${session.token}`, "idempotency-key": idempotencyKey },
        onProgress: options.onProgress,
      }),
    );
    // 200: the account had this file already (on_duplicate=return), and nothing was stored.
    if (answer.status === 201 || answer.status === 200) return JSON.parse(answer.body) as Image;
    if (answer.status !== 413) throw new ApiProblem(problemFrom(answer.status, parseBody(answer), "Upload refused"));
  }
  return uploadStraightToS3(client, file, metadata, `${idempotencyKey}-large`, options, retries);
}

async function uploadStraightToS3(
  client: ApiClient,
  file: LocalFile,
  metadata: UploadMetadata,
  idempotencyKey: string,
  options: UploadOptions,
  retries: number,
): Promise<Image | ImageWithLinks> {
  const started = await withRetries(retries, async () => {
    const result = await client.POST("/images/upload", {
      headers: { "idempotency-key": idempotencyKey },
      params: { query: options.onDuplicate ? { on_duplicate: options.onDuplicate } : {} },
      body: {
        title: metadata.title,
        ...(metadata.description !== undefined ? { description: metadata.description } : {}),
        tags: metadata.tags,
        content_type: file.contentType,
        size_bytes: file.size,
        ...(options.sha256 ? { sha256: options.sha256 } : {}),
      },
    });
    return { status: result.response.status, headers: result.response.headers, result };
  });
  const answer = unwrap(started.result);
  if (!("upload" in answer)) return answer; // an idempotent replay of a finished upload
  const { image, upload } = answer;

  const stored = await postForm(upload.url, Object.entries(upload.fields), file, { onProgress: options.onProgress });
  if (stored.status < 200 || stored.status >= 300) {
    const message = /<Message>([^<]*)<\/Message>/.exec(stored.body)?.[1];
    throw new ApiProblem({
      type: "about:blank",
      title: "Storage refused the file",
      status: stored.status,
      detail: `the storage service refused the file (HTTP ${stored.status})${message ? `: ${message}` : ""}`,
    });
  }

  options.onPhase?.("checking");
  return waitUntilChecked(client, image.image_id, options);
}

/** Polls a pending image until the service has checked its file. */
export async function waitUntilChecked(
  client: ApiClient,
  imageId: string,
  options: Pick<UploadOptions, "pollIntervalMs" | "pollTimeoutMs"> = {},
): Promise<ImageWithLinks> {
  const interval = options.pollIntervalMs ?? 500;
  const deadline = Date.now() + (options.pollTimeoutMs ?? 5 * 60_000);
  for (;;) {
    const image = unwrap(await client.GET("/images/{image_id}", { params: { path: { image_id: imageId } } }));
    if (image.status !== "pending") return image;
    if (Date.now() > deadline) {
      throw new ApiProblem({
        type: "about:blank",
        title: "Still pending",
        status: 504,
        detail: `${imageId} was still being checked after ${Math.round((options.pollTimeoutMs ?? 300_000) / 1000)} s; see images get ${imageId}`,
      });
    }
    await sleep(interval);
  }
}

function multipartFields(metadata: UploadMetadata): [string, string][] {
  const fields: [string, string][] = [["title", metadata.title]];
  if (metadata.description !== undefined) fields.push(["description", metadata.description]);
  for (const tag of metadata.tags) fields.push(["tags", tag]);
  return fields;
}

const apiBase = (session: Session) => session.baseUrl.replace(/\/+$/, "");

function parseBody(answer: FormAnswer): unknown {
  try {
    return JSON.parse(answer.body);
  } catch {
    return answer.body;
  }
}

type Answer = Pick<FormAnswer, "status"> & { headers: Headers | FormAnswer["headers"] };

/** Tries again after a 429 or 503, waiting what Retry-After says (at most 30 s). */
async function withRetries<T extends Answer>(retries: number, attempt: () => Promise<T>): Promise<T> {
  for (let tried = 0; ; tried++) {
    const answer = await attempt();
    if (tried >= retries || (answer.status !== 429 && answer.status !== 503)) return answer;
    const header =
      answer.headers instanceof Headers ? answer.headers.get("retry-after") : answer.headers["retry-after"];
    const seconds = Math.min(Number(header) || 1, 30);
    await sleep(seconds * 1000);
  }
}
