import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { basename, extname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import cliProgress from "cli-progress";
import {
  ApiProblem,
  formatBytes,
  problemFrom,
  unwrap,
  type ApiClient,
  type Image,
  type ImagePatch,
  type ImageWithLinks,
  type ListedImage,
  type ListQuery,
  type Problem,
} from "@images/client";
import { clientFor, type Session } from "./client.ts";
import { baseUrlOf, configPath, readConfig, removeConfig, tokenSubject, writeConfig } from "./config.ts";
import { collectFiles, type LocalFile } from "./files.ts";
import { formatImageDetails, formatImageTable } from "./output.ts";
import { describeProblem } from "./problem.ts";
import { fileSha256, knownDigests, uploadFile, type UploadMetadata } from "./upload.ts";

/** Where a command writes: stdout for results, stderr for progress and problems. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Progress bars are drawn here when it is a terminal. */
  progressStream: NodeJS.WriteStream;
}

/** A problem the person can act on, printed without a stack. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Every command's --url: the API to talk to this once, over IMAGES_URL and the stored one. */
export interface UrlOption {
  url?: string;
}

async function signedIn({ url }: UrlOption): Promise<{ session: Session; client: ApiClient }> {
  const config = await readConfig();
  if (!config?.token) {
    const where = config ? `no token in ${configPath()}` : `no ${configPath()}`;
    throw new UsageError(`not signed in (${where}): run images login`);
  }
  const session = { baseUrl: baseUrlOf(url, config), token: config.token };
  return { session, client: clientFor(session) };
}

export interface LoginOptions extends UrlOption {
  user?: string;
  token?: string;
}

/** Stores a token for the API at `url`: given, or (local development only) asked of the dev server. */
export async function login(options: LoginOptions, io: Io): Promise<number> {
  if ((options.user === undefined) === (options.token === undefined)) {
    throw new UsageError("give one of --user <name> (local dev server) or --token <token>");
  }
  const previous = await readConfig().catch(() => undefined);
  const baseUrl = baseUrlOf(options.url, previous);
  const token = options.token ?? (await developmentToken(baseUrl, options.user!));
  // A cheap authenticated call proves the token before it is kept.
  unwrap(await clientFor({ baseUrl, token }).GET("/images", { params: { query: { limit: 1 } } }));
  const userId = tokenSubject(token);
  await writeConfig({ base_url: baseUrl, token, ...(userId ? { user_id: userId } : {}) });
  io.out(`signed in to ${baseUrl}${userId ? ` as ${userId}` : ""} (saved in ${configPath()})`);
  return 0;
}

/** `POST /dev/token`, which only `npm run dev` serves. */
async function developmentToken(baseUrl: string, userId: string): Promise<string> {
  const response = await fetch(`${baseUrl}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: userId }),
  });
  const body = (await response.json().catch(() => undefined)) as { token?: string } | undefined;
  if (response.status === 404) {
    throw new UsageError(`${baseUrl} gives no development tokens (only npm run dev does): use --token`);
  }
  if (!response.ok || typeof body?.token !== "string") {
    throw new ApiProblem(problemFrom(response.status, body, "No development token"));
  }
  return body.token;
}

/** Forgets the token and keeps the API's URL (or --url's) for the next `images login`. */
export async function logout(options: UrlOption, io: Io): Promise<number> {
  const config = await readConfig().catch(() => undefined);
  if (!config && !options.url) {
    await removeConfig();
    io.out("not signed in");
    return 0;
  }
  const baseUrl = baseUrlOf(options.url, config);
  await writeConfig({ base_url: baseUrl });
  io.out(
    `${config?.token ? "signed out" : "not signed in"}; ${baseUrl} is kept for the next images login (in ${configPath()})`,
  );
  return 0;
}

export interface UploadCommandOptions extends UrlOption {
  title?: string;
  description?: string;
  tag: string[];
  concurrency: number;
  json?: boolean;
  /** Upload files the account already has too (by default they are skipped, no byte sent). */
  again?: boolean;
}

interface UploadOutcome {
  file: string;
  image?: Image | ImageWithLinks;
  /** The account's image of the same file, when this one was not sent. */
  existing_image_id?: string;
  error?: Problem | { detail: string };
}

/** Uploads files and folders, `concurrency` at a time, with a progress bar for each file. */
export async function upload(paths: string[], options: UploadCommandOptions, io: Io): Promise<number> {
  const { session, client } = await signedIn(options);
  const { files, skipped } = await collectFiles(paths).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "ENOENT" ? new UsageError(`${error.path}: no such file or folder`) : error;
  });
  for (const path of skipped) io.err(`skipped ${path} (not an image file name)`);
  if (files.length === 0) throw new UsageError("no image files to upload");

  // Asked first, 100 digests a request: a file the account already has is not sent again.
  const digests = await mapWithConcurrency(files, options.concurrency, (file) => fileSha256(file.path));
  const known = options.again ? new Map<string, string>() : await knownDigests(client, digests);

  // Bars on a terminal only; elsewhere (a pipe, a CI log) the result lines below say it all.
  const bars = io.progressStream.isTTY
    ? new cliProgress.MultiBar(
        {
          stream: io.progressStream,
          format: "{bar} {percentage}% | {name} | {done}/{total_size} | {phase}",
          barsize: 24,
          // Left visible: a Ctrl-C mid-upload must not leave the terminal without a cursor.
          hideCursor: false,
          clearOnComplete: false,
          stopOnComplete: false,
          autopadding: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const nameWidth = Math.min(32, Math.max(...files.map((file) => basename(file.path).length)));
  // Every file's bar from the start ("waiting"), filled as its turn comes.
  const fileBars = files.map((file) => {
    const name = basename(file.path).slice(0, nameWidth).padEnd(nameWidth);
    const payload = { name, done: formatBytes(0), total_size: formatBytes(file.size), phase: "waiting" };
    return bars?.create(file.size, 0, payload) ?? { update: () => undefined };
  });
  const outcomes = await mapWithConcurrency(files, options.concurrency, async (file, index): Promise<UploadOutcome> => {
    const bar = fileBars[index]!;
    const existing = known.get(digests[index]!);
    if (existing) {
      bar.update(file.size, { phase: "already uploaded" });
      return { file: file.path, existing_image_id: existing };
    }
    const metadata: UploadMetadata = {
      title: options.title ?? titleFromFileName(file),
      ...(options.description !== undefined ? { description: options.description } : {}),
      tags: options.tag,
    };
    try {
      const image = await uploadFile(session, client, file, metadata, {
        // A file twice in one run (two names, same bytes), or uploaded by another run meanwhile: stored once.
        onDuplicate: options.again ? "store" : "return",
        sha256: digests[index],
        onPhase: (phase) => bar.update({ phase }),
        onProgress: (sent) => bar.update(sent, { done: formatBytes(sent) }),
      });
      bar.update(file.size, { done: formatBytes(file.size), phase: image.status });
      const outcome: UploadOutcome = { file: file.path, image };
      if (image.status === "failed") outcome.error = { detail: image.failure_reason ?? "the file was refused" };
      return outcome;
    } catch (error) {
      bar.update({ phase: "failed" });
      if (error instanceof ApiProblem) return { file: file.path, error: error.problem };
      return { file: file.path, error: { detail: error instanceof Error ? error.message : String(error) } };
    }
  });
  bars?.stop();

  const failed = outcomes.filter((outcome) => outcome.error);
  const already = outcomes.filter((outcome) => outcome.existing_image_id);
  if (options.json) {
    io.out(JSON.stringify(outcomes, null, 2));
  } else {
    for (const { file, image, existing_image_id, error } of outcomes) {
      if (error) {
        io.err(`failed  ${file}`);
        for (const line of "status" in error ? describeProblem(error) : [error.detail]) io.err(`        ${line}`);
      } else if (existing_image_id) {
        io.out(`known   ${existing_image_id}  ${file}`);
      } else if (image) {
        io.out(`${image.status.padEnd(7)} ${image.image_id}  ${file}`);
      }
    }
    const uploaded = outcomes.length - failed.length - already.length;
    const known = already.length > 0 ? `, ${already.length} already uploaded (not sent; --again sends them)` : "";
    io.out(`${uploaded} uploaded${known}, ${failed.length} failed`);
  }
  return failed.length > 0 ? 1 : 0;
}

const titleFromFileName = (file: LocalFile) => basename(file.path, extname(file.path)) || basename(file.path);

/** Runs `work` over `items`, at most `limit` at a time, keeping the items' order in the answers. */
export async function mapWithConcurrency<T, R>(
  items: T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export interface ListOptions extends UrlOption {
  user?: string;
  tag?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

/** One page (or with --all every page) of images, newest first, as a table or JSON. */
export async function list(options: ListOptions, io: Io): Promise<number> {
  const { client } = await signedIn(options);
  const query: ListQuery = {
    ...(options.user !== undefined ? { user_id: options.user } : {}),
    ...(options.tag !== undefined ? { tag: options.tag } : {}),
    ...(options.from !== undefined ? { from: options.from } : {}),
    ...(options.to !== undefined ? { to: options.to } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
  };
  const items: ListedImage[] = [];
  let cursor = options.cursor ?? null;
  do {
    const page = unwrap(
      await client.GET("/images", { params: { query: { ...query, ...(cursor ? { cursor } : {}) } } }),
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (options.all && cursor);

  if (options.json) {
    io.out(JSON.stringify({ items, next_cursor: cursor }, null, 2));
  } else {
    io.out(items.length > 0 ? formatImageTable(items) : "no images match");
    if (cursor) io.err(`more: add --cursor ${cursor} (or --all)`);
  }
  return 0;
}

export interface GetOptions extends UrlOption {
  output?: string;
  /** Save the rendition nearest to this many pixels on the long side instead of the original. */
  size?: number;
  json?: boolean;
}

type Rendition = ImageWithLinks["renditions"][number];
const longSide = (rendition: Pick<Rendition, "width" | "height">) => Math.max(rendition.width, rendition.height);

/**
 * The rendition to save for `size` px on the long side: the smallest at or above it (no
 * upscaling in the browser's stead), else the largest there is; undefined when there are none.
 */
export function nearestRendition<T extends Pick<Rendition, "width" | "height">>(renditions: T[], size: number) {
  const bySide = [...renditions].sort((a, b) => longSide(a) - longSide(b));
  return bySide.find((rendition) => longSide(rendition) >= size) ?? bySide.at(-1);
}

/**
 * One image's metadata; with -o, its bytes saved to a file and checked against its sha256; with
 * --size, the nearest rendition saved instead (to -o, else `<id>-<width>.webp`) and checked
 * against its size_bytes.
 */
export async function get(imageId: string, options: GetOptions, io: Io): Promise<number> {
  const { client } = await signedIn(options);
  const image = unwrap(await client.GET("/images/{image_id}", { params: { path: { image_id: imageId } } }));
  const saving = options.output !== undefined || options.size !== undefined;
  if (options.json) io.out(JSON.stringify(image, null, 2));
  else if (!saving) io.out(formatImageDetails(image));
  if (!saving) return 0;
  const report = options.json ? io.err : io.out;
  if (options.size !== undefined) return saveRendition(image, options.size, options.output, report);

  const output = options.output!;
  if (!image.download_url) throw new UsageError(`${imageId} has no bytes to download (status ${image.status})`);
  const { bytes, sha256 } = await download(image.download_url, output);
  if (image.sha256 && sha256 !== image.sha256) {
    await rm(output, { force: true });
    throw new UsageError(`the downloaded bytes do not match the image's sha256 (${sha256} != ${image.sha256})`);
  }
  report(`saved ${output} (${formatBytes(bytes)}, sha256 ${sha256})`);
  return 0;
}

async function saveRendition(
  image: ImageWithLinks,
  size: number,
  output: string | undefined,
  report: (line: string) => void,
): Promise<number> {
  const rendition = nearestRendition(image.renditions, size);
  if (!rendition) {
    const why = image.status === "ready" ? "stored before renditions were made" : `status ${image.status}`;
    throw new UsageError(`${image.image_id} has no renditions (${why}); -o without --size saves the original`);
  }
  const file = output ?? `${image.image_id}-${rendition.width}.webp`;
  let bytes: number;
  try {
    ({ bytes } = await download(rendition.url, file));
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
  if (bytes !== rendition.size_bytes) {
    await rm(file, { force: true });
    throw new UsageError(`the rendition arrived with ${bytes} bytes, not the ${rendition.size_bytes} listed`);
  }
  report(
    `saved ${file}: ${rendition.width}x${rendition.height} ${rendition.content_type} rendition ` +
      `(nearest to ${size} px), ${formatBytes(bytes)} (${bytes} bytes)`,
  );
  return 0;
}

async function download(url: string, file: string): Promise<{ bytes: number; sha256: string }> {
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new ApiProblem({
      type: "about:blank",
      title: "Download failed",
      status: response.status,
      detail: `the download link answered HTTP ${response.status}`,
    });
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), count, createWriteStream(file));
  return { bytes, sha256: hash.digest("hex") };
}

export interface EditOptions extends UrlOption {
  title?: string;
  description?: string;
  clearDescription?: boolean;
  tag?: string[];
  clearTags?: boolean;
  json?: boolean;
}

/** Changes the title, description or tags of one of your images. */
export async function edit(imageId: string, options: EditOptions, io: Io): Promise<number> {
  const patch: ImagePatch = {};
  if (options.title !== undefined) patch.title = options.title;
  if (options.description !== undefined) patch.description = options.description;
  if (options.clearDescription) patch.description = null;
  if (options.tag !== undefined) patch.tags = options.tag;
  if (options.clearTags) patch.tags = [];
  if (Object.keys(patch).length === 0) {
    throw new UsageError("nothing to change: give --title, --description, --clear-description, --tag or --clear-tags");
  }
  const { client } = await signedIn(options);
  const image = unwrap(
    await client.PATCH("/images/{image_id}", { params: { path: { image_id: imageId } }, body: patch }),
  );
  io.out(options.json ? JSON.stringify(image, null, 2) : formatImageDetails(image));
  return 0;
}

/**
 * Deletes images you own, one after the other, naming each one the API refuses; exits 1 if any
 * was. A 401 stops it: no other would pass.
 */
export async function remove(imageIds: string[], options: UrlOption, io: Io): Promise<number> {
  const { client } = await signedIn(options);
  let failed = 0;
  for (const imageId of imageIds) {
    try {
      unwrap(await client.DELETE("/images/{image_id}", { params: { path: { image_id: imageId } } }));
    } catch (error) {
      if (!(error instanceof ApiProblem) || error.problem.status === 401) throw error;
      failed++;
      const [first, ...more] = describeProblem(error.problem);
      io.err(`images: ${imageId} not deleted: ${first}`);
      for (const line of more) io.err(`images: ${line}`);
      continue;
    }
    io.out(`deleted ${imageId}`);
  }
  return failed > 0 ? 1 : 0;
}
