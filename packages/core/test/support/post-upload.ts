import type { PresignedUpload } from "../../src/image/start-large-upload.ts";

/** Sends a file the way a browser or curl does: a form post of the presigned fields, then the file. */
export async function postToS3(upload: PresignedUpload, bytes: Uint8Array, fileName = "photo.jpg"): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", new Blob([bytes], { type: upload.fields["Content-Type"] }), fileName);
  return fetch(upload.url, { method: "POST", body: form });
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
