import { open, readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";

export interface LocalFile {
  path: string;
  size: number;
  /** From the first bytes when they name a format the API takes, else from the extension. */
  contentType: string;
}

const BY_EXTENSION: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".avif": "image/avif",
};

/** The formats the API accepts, recognised from their first bytes. */
export function sniffImageType(head: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "image/jpeg";
  if (ascii(0, 8) === "\x89PNG\r\n\x1a\n") return "image/png";
  if (ascii(0, 4) === "GIF8") return "image/gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  if (ascii(4, 8) === "ftyp" && ["avif", "avis"].includes(ascii(8, 12))) return "image/avif";
  return undefined;
}

async function describeFile(path: string, size: number): Promise<LocalFile> {
  const handle = await open(path, "r");
  try {
    const head = new Uint8Array(32);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const contentType =
      sniffImageType(head.subarray(0, bytesRead)) ??
      BY_EXTENSION[extname(path).toLowerCase()] ??
      "application/octet-stream";
    return { path, size, contentType };
  } finally {
    await handle.close();
  }
}

/**
 * The files to upload: each file named, whatever it is (the API decides), and in each folder,
 * recursively and in name order, the files whose extension names an image format.
 */
export async function collectFiles(paths: string[]): Promise<{ files: LocalFile[]; skipped: string[] }> {
  const files: LocalFile[] = [];
  const skipped: string[] = [];
  async function walk(path: string, named: boolean): Promise<void> {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = (await readdir(path)).sort();
      for (const entry of entries) await walk(join(path, entry), false);
    } else if (info.isFile()) {
      if (named || extname(path).toLowerCase() in BY_EXTENSION) files.push(await describeFile(path, info.size));
      else skipped.push(path);
    }
  }
  for (const path of paths) await walk(path, true);
  return { files, skipped };
}
