import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { basename } from "node:path";

export interface FormFile {
  path: string;
  size: number;
  contentType: string;
}

export interface FormAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const CRLF = "\r\n";
const CHUNK = 64 * 1024;

/** Quotes a name for a Content-Disposition parameter. */
const quoted = (value: string) => `"${value.replace(/[\r\n"\\]/g, "_")}"`;

/**
 * POSTs multipart/form-data: `fields` in order, then the file as `file`, streamed from disk with
 * a Content-Length (S3's presigned POST requires one, and so does API Gateway for a sane body),
 * calling `onProgress` with the file bytes sent so far.
 */
export function postForm(
  url: string,
  fields: [string, string][],
  file: FormFile,
  options: { headers?: Record<string, string>; onProgress?: (sent: number) => void } = {},
): Promise<FormAnswer> {
  const boundary = `----images-cli-${randomBytes(12).toString("hex")}`;
  const head = Buffer.from(
    fields
      .map(
        ([name, value]) =>
          `--${boundary}${CRLF}Content-Disposition: form-data; name=${quoted(name)}${CRLF}${CRLF}${value}${CRLF}`,
      )
      .join("") +
      `--${boundary}${CRLF}Content-Disposition: form-data; name="file"; filename=${quoted(basename(file.path))}${CRLF}` +
      `Content-Type: ${file.contentType}${CRLF}${CRLF}`,
  );
  const tail = Buffer.from(`${CRLF}--${boundary}--${CRLF}`);
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;

  return new Promise<FormAnswer>((resolve, reject) => {
    const req = send(target, {
      method: "POST",
      headers: {
        ...options.headers,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(head.length + file.size + tail.length),
      },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });

    req.write(head);
    let sent = 0;
    const stream = createReadStream(file.path, { highWaterMark: CHUNK });
    stream.on("error", (error) => {
      req.destroy(error);
      reject(error);
    });
    stream.on("data", (chunk) => {
      sent += chunk.length;
      // Wait for the socket to take this chunk before reading the next: progress follows the network.
      if (!req.write(chunk)) {
        stream.pause();
        req.once("drain", () => stream.resume());
      }
      options.onProgress?.(sent);
    });
    stream.on("end", () => {
      if (sent !== file.size) {
        req.destroy();
        reject(new Error(`${file.path} changed while it was being sent (${sent} of ${file.size} bytes)`));
        return;
      }
      req.end(tail);
    });
  });
}
