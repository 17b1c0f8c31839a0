/**
 * The Postman collection's scenario, in the order newman runs it (generate-docs.ts turns it
 * into docs/postman_collection.json): each step names the OpenAPI operation it calls, and the
 * generator takes that operation's request (name, description, headers) from the converted
 * document and the schema its answer must match from the document's responses.
 *
 * What one step leaves for the next (the new images' ids, their upload times, the presigned POST)
 * is kept with pm.variables: local to the run, never written into the collection. `baseUrl` and
 * `token` are read from the environment or the globals (`--env-var token=...`); neither is a
 * collection variable, so none can shadow what the caller gives.
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The fixtures, relative to the repository (newman's --working-dir): ../shared sits beside it. */
export const FIXTURES = {
  /** Small enough for the multipart mode (at most 4 MiB). */
  small: { src: "../shared/fixtures/images/FreshFlower.jpg", width: 1600, height: 1203 },
  /** Larger than 4 MiB: the JSON mode and a presigned POST straight to S3, which takes this size only. */
  large: { src: "../shared/fixtures/images/Elephants_3840x2160.jpg", bytes: 8_484_634, width: 3840, height: 2160 },
  /** Not an image format the API takes: a 415. */
  notAccepted: { src: "../shared/fixtures/images/oceans.svg" },
} as const;

/** Used when neither the environment nor the globals give `baseUrl`: `npm run dev`'s address. */
export const DEFAULT_BASE_URL = "http://127.0.0.1:3000";
export const TOKEN_VARIABLE = "token";
/** How often, and how far apart, the large image is fetched until it is `ready`. */
const POLL = { attempts: 60, intervalMs: 500 };
/** The sha256 of the small fixture as uploaded: what a client asks POST /images/check about. */
const SMALL_SHA256 = createHash("sha256")
  .update(readFileSync(join(import.meta.dirname, "../../..", FIXTURES.small.src)))
  .digest("hex");
/** A digest no file of the run has. */
const UNKNOWN_SHA256 = "0".repeat(64);
/** An id of the right shape that no image has. */
const UNKNOWN_ID = "img_00000000000000000000000000";

export type FormField = { key: string; value: string } | { key: string; file: string };

export interface FlowStep {
  name: string;
  /** The OpenAPI operation; absent for a request to another host (the presigned POST to S3). */
  operationId?: string;
  /** For a step with no operation. */
  method?: string;
  /** `{{variable}}` for a URL taken from an earlier answer; otherwise from the operation. */
  url?: string;
  pathVariables?: Record<string, string>;
  query?: Record<string, string>;
  /** No bearer token on this request. */
  noAuth?: boolean;
  json?: unknown;
  form?: FormField[];
  status: number;
  /** The components schema the body must match, when narrower than the operation's (anyOf). */
  schema?: string;
  /** Extra pre-request lines. */
  prerequest?: string[];
  /** Extra test lines, after the status and shape checks; `body` is the parsed JSON body. */
  tests?: string[];
}

export interface FlowFolder {
  name: string;
  description: string;
  steps: FlowStep[];
}

/** Run once, first: what the run shares, and a tag no earlier run used. */
const RUN_SETUP = [`if (!pm.variables.get("runTag")) pm.variables.set("runTag", "newman-" + Date.now().toString(36));`];

const expectIds = (variables: string[]) =>
  `const ids = body.items.map((item) => item.image_id);\n` +
  variables.map((v) => `pm.expect(ids, "${v}").to.include(pm.variables.get("${v}"));`).join("\n");

export const FLOW: FlowFolder[] = [
  {
    name: "1. Health",
    description: "The service answers; the run's tag is chosen.",
    steps: [
      {
        name: "Health",
        operationId: "getHealth",
        noAuth: true,
        status: 200,
        prerequest: RUN_SETUP,
        tests: [
          `pm.test("status is ok", () => pm.expect(body.status).to.equal("ok"));`,
          `pm.test("a token is given (the ${TOKEN_VARIABLE} variable, e.g. --env-var ${TOKEN_VARIABLE}=...)", () =>`,
          `  pm.expect(pm.variables.get("${TOKEN_VARIABLE}") || "").to.match(/^[\\w-]+\\.[\\w-]+\\.[\\w-]+$/));`,
        ],
      },
      {
        name: "OpenAPI document",
        operationId: "getOpenApiDocument",
        noAuth: true,
        status: 200,
        tests: [
          `pm.test("OpenAPI 3.1 with the image operations", () => {`,
          `  pm.expect(body.openapi).to.match(/^3\\.1\\./);`,
          `  pm.expect(body.paths).to.include.keys("/images/upload", "/images", "/images/{image_id}");`,
          `});`,
        ],
      },
      {
        name: "API reference page",
        operationId: "getApiReference",
        noAuth: true,
        status: 200,
        tests: [`pm.test("names the API", () => pm.expect(pm.response.text()).to.include("<title>"));`],
      },
    ],
  },
  {
    name: "2. Upload (multipart)",
    description: `${FIXTURES.small.src} with its metadata in one request: the answer is the ready image.`,
    steps: [
      {
        name: "Upload a file (multipart)",
        operationId: "uploadImage",
        form: [
          { key: "file", file: FIXTURES.small.src },
          { key: "title", value: "Fresh flower" },
          { key: "description", value: "Uploaded by the Postman collection." },
          { key: "tags", value: "{{runTag}},flowers" },
        ],
        status: 201,
        schema: "Image",
        tests: [
          `pm.test("the stored image, ready, as sent", () => {`,
          `  pm.expect(body.status).to.equal("ready");`,
          `  pm.expect(body.title).to.equal("Fresh flower");`,
          `  pm.expect(body.tags).to.have.members([pm.variables.get("runTag"), "flowers"]);`,
          `  pm.expect(body.content_type).to.equal("image/jpeg");`,
          `  pm.expect(body.size_bytes).to.be.above(0);`,
          `  pm.expect([body.width, body.height]).to.eql([${FIXTURES.small.width}, ${FIXTURES.small.height}]);`,
          `  pm.expect(body.sha256).to.match(/^[0-9a-f]{64}$/);`,
          `});`,
          `pm.variables.set("userId", body.user_id);`,
          `pm.variables.set("smallImageId", body.image_id);`,
          `pm.variables.set("smallUploadTime", body.upload_time);`,
          `pm.variables.set("smallSize", body.size_bytes);`,
        ],
      },
    ],
  },
  {
    name: "3. Upload (JSON, presigned POST, polling)",
    description:
      `${FIXTURES.large.src} (over 4 MiB): declare it, post it straight to S3 with the presigned ` +
      `POST from the answer, then fetch the image until it is ready (at most ${POLL.attempts} times, ` +
      `${POLL.intervalMs} ms apart).`,
    steps: [
      {
        name: "Start a large upload (JSON)",
        operationId: "uploadImage",
        json: {
          title: "Elephants",
          description: null,
          tags: ["{{runTag}}", "elephants"],
          content_type: "image/jpeg",
          size_bytes: FIXTURES.large.bytes,
        },
        status: 201,
        schema: "LargeUploadStarted",
        tests: [
          `pm.test("a pending image and a presigned POST for its size", () => {`,
          `  pm.expect(body.image.status).to.equal("pending");`,
          `  pm.expect(body.image.size_bytes).to.equal(${FIXTURES.large.bytes});`,
          `  pm.expect(body.upload.method).to.equal("POST");`,
          `  pm.expect(body.upload.max_bytes).to.be.at.least(${FIXTURES.large.bytes});`,
          `  pm.expect(Date.parse(body.upload.expires_at)).to.be.above(Date.now());`,
          `});`,
          `pm.variables.set("largeImageId", body.image.image_id);`,
          `pm.variables.set("largeUploadTime", body.image.upload_time);`,
          `pm.variables.set("uploadUrl", body.upload.url);`,
          `pm.variables.set("uploadFields", JSON.stringify(body.upload.fields));`,
          `pm.variables.set("pollAttempt", 0);`,
        ],
      },
      {
        name: "Send the file to S3 (presigned POST)",
        method: "POST",
        url: "{{uploadUrl}}",
        noAuth: true,
        form: [{ key: "file", file: FIXTURES.large.src }],
        status: 204,
        prerequest: [
          `// The presigned fields, in their order, before the file (S3 reads the fields first).`,
          `const fields = JSON.parse(pm.variables.get("uploadFields") || "{}");`,
          `for (const [key, value] of Object.entries(fields)) {`,
          `  pm.request.body.formdata.insert({ key, value, type: "text" }, "file");`,
          `}`,
        ],
        tests: [`pm.test("S3 keeps the file", () => pm.expect(pm.response.headers.has("ETag")).to.be.true);`],
      },
      {
        name: "Poll the image until ready",
        operationId: "getImage",
        pathVariables: { image_id: "{{largeImageId}}" },
        status: 200,
        prerequest: [
          `// Each attempt after the first waits a little.`,
          `if (Number(pm.variables.get("pollAttempt")) > 0) setTimeout(() => {}, ${POLL.intervalMs});`,
        ],
        tests: [
          `const attempt = Number(pm.variables.get("pollAttempt")) + 1;`,
          `pm.variables.set("pollAttempt", attempt);`,
          `if (body.status === "pending" && attempt < ${POLL.attempts}) {`,
          `  pm.execution.setNextRequest(pm.info.requestId);`,
          `} else {`,
          `  pm.test("ready within ${POLL.attempts} attempts (" + attempt + " taken)", () => pm.expect(body.status).to.equal("ready"));`,
          `  pm.test("the stored file, checked", () => {`,
          `    pm.expect(body.image_id).to.equal(pm.variables.get("largeImageId"));`,
          `    pm.expect([body.width, body.height]).to.eql([${FIXTURES.large.width}, ${FIXTURES.large.height}]);`,
          `    pm.expect(body.sha256).to.match(/^[0-9a-f]{64}$/);`,
          `    pm.expect(body.download_url).to.be.a("string");`,
          `    pm.expect(body.renditions).to.have.lengthOf.at.least(1);`,
          `  });`,
          `}`,
        ],
      },
    ],
  },
  {
    name: "4. Get",
    description: "The multipart upload, with its renditions, placeholder and download link; then the link itself.",
    steps: [
      {
        name: "Get the image",
        operationId: "getImage",
        pathVariables: { image_id: "{{smallImageId}}" },
        status: 200,
        tests: [
          `pm.test("the uploaded image, with its links", () => {`,
          `  pm.expect(body.image_id).to.equal(pm.variables.get("smallImageId"));`,
          `  pm.expect(body.status).to.equal("ready");`,
          `  pm.expect(body.download_url).to.be.a("string").and.match(/^https?:\\/\\//);`,
          `  pm.expect(Date.parse(body.download_expires_at)).to.be.above(Date.now());`,
          `  pm.expect(body.placeholder).to.be.a("string").and.not.empty;`,
          `});`,
          `pm.test("renditions: WebP, smallest first, none wider than the original", () => {`,
          `  pm.expect(body.renditions).to.have.lengthOf.at.least(1);`,
          `  const widths = body.renditions.map((r) => Math.max(r.width, r.height));`,
          `  pm.expect(widths).to.eql([...widths].sort((a, b) => a - b));`,
          `  for (const r of body.renditions) {`,
          `    pm.expect(r.content_type).to.equal("image/webp");`,
          `    pm.expect(Math.max(r.width, r.height)).to.be.at.most(${Math.max(FIXTURES.small.width, FIXTURES.small.height)});`,
          `  }`,
          `  pm.expect(body.thumbnail_url).to.equal(body.renditions[0].url);`,
          `});`,
          `pm.variables.set("downloadUrl", body.download_url);`,
        ],
      },
      {
        name: "Download the original (presigned GET)",
        method: "GET",
        url: "{{downloadUrl}}",
        noAuth: true,
        status: 200,
        tests: [
          `pm.test("the bytes as uploaded", () => {`,
          `  pm.expect(pm.response.headers.get("Content-Type")).to.equal("image/jpeg");`,
          `  pm.expect(pm.response.stream.length).to.equal(Number(pm.variables.get("smallSize")));`,
          `});`,
        ],
      },
    ],
  },
  {
    name: "5. List",
    description: "Each filter, then all of them together; the run's tag keeps other images out.",
    steps: [
      {
        name: "List by user",
        operationId: "listImages",
        query: { user_id: "{{userId}}", limit: "100" },
        status: 200,
        tests: [
          `pm.test("only this user's, with both uploads", () => {`,
          `  for (const item of body.items) pm.expect(item.user_id).to.equal(pm.variables.get("userId"));`,
          `  ${expectIds(["smallImageId", "largeImageId"]).replace(/\n/g, "\n  ")}`,
          `});`,
        ],
      },
      {
        name: "List by tag",
        operationId: "listImages",
        query: { tag: "{{runTag}}" },
        status: 200,
        tests: [
          `pm.test("exactly the run's two images, newest first", () => {`,
          `  pm.expect(body.items.map((item) => item.image_id)).to.eql([pm.variables.get("largeImageId"), pm.variables.get("smallImageId")]);`,
          `  pm.expect(body.next_cursor).to.be.null;`,
          `});`,
        ],
      },
      {
        name: "List by date range (from, to)",
        operationId: "listImages",
        query: { from: "{{smallUploadTime}}", to: "{{largeUploadTime}}", limit: "100" },
        status: 200,
        tests: [
          `pm.test("both uploads, and only images in the range", () => {`,
          `  const from = Date.parse(pm.variables.get("smallUploadTime"));`,
          `  const to = Date.parse(pm.variables.get("largeUploadTime"));`,
          `  for (const item of body.items) pm.expect(Date.parse(item.upload_time)).to.be.within(from, to);`,
          `  ${expectIds(["smallImageId", "largeImageId"]).replace(/\n/g, "\n  ")}`,
          `});`,
        ],
      },
      {
        name: "List by user, tag and date together",
        operationId: "listImages",
        query: { user_id: "{{userId}}", tag: "{{runTag}}", from: "{{largeUploadTime}}", limit: "10" },
        status: 200,
        tests: [
          `pm.test("the large upload only (the other is earlier)", () =>`,
          `  pm.expect(body.items.map((item) => item.image_id)).to.eql([pm.variables.get("largeImageId")]));`,
        ],
      },
    ],
  },
  {
    name: "6. Edit",
    description: "A new title, no description, other tags.",
    steps: [
      {
        name: "Edit the image",
        operationId: "updateImage",
        pathVariables: { image_id: "{{smallImageId}}" },
        json: { title: "Fresh flower, edited", description: null, tags: ["{{runTag}}", "Edited"] },
        status: 200,
        tests: [
          `pm.test("the edited image", () => {`,
          `  pm.expect(body.image_id).to.equal(pm.variables.get("smallImageId"));`,
          `  pm.expect(body.title).to.equal("Fresh flower, edited");`,
          `  pm.expect(body.description).to.be.null;`,
          `  pm.expect(body.tags).to.have.members([pm.variables.get("runTag"), "edited"]);`,
          `  pm.expect(body.size_bytes).to.equal(Number(pm.variables.get("smallSize")));`,
          `});`,
        ],
      },
    ],
  },
  {
    name: "7. Duplicates and recently deleted",
    description:
      "The small file is known by its sha256; uploading it again is refused or answered with the image there; " +
      "the image goes to the trash, is listed there, and is restored.",
    steps: [
      {
        name: "Check which files are already uploaded",
        operationId: "checkImages",
        json: { sha256: [SMALL_SHA256, UNKNOWN_SHA256] },
        status: 200,
        tests: [
          `pm.test("the small file is known, the other is not", () =>`,
          `  pm.expect(body.known).to.deep.equal([{ sha256: "${SMALL_SHA256}", image_id: pm.variables.get("smallImageId") }]));`,
        ],
      },
      {
        name: "Upload the same file, answered with the image there",
        operationId: "uploadImage",
        query: { on_duplicate: "return" },
        form: [
          { key: "file", file: FIXTURES.small.src },
          { key: "title", value: "Fresh flower again" },
        ],
        status: 200,
        tests: [
          `pm.test("the existing image", () => pm.expect(body.image_id).to.equal(pm.variables.get("smallImageId")));`,
        ],
      },
      {
        name: "Upload the same file, refused as a duplicate",
        operationId: "uploadImage",
        query: { on_duplicate: "reject" },
        form: [
          { key: "file", file: FIXTURES.small.src },
          { key: "title", value: "Fresh flower again" },
        ],
        status: 409,
        tests: [
          `pm.test("names the existing image", () =>`,
          `  pm.expect(body.existing_image_id).to.equal(pm.variables.get("smallImageId")));`,
        ],
      },
      {
        name: "Trash the image",
        operationId: "trashImage",
        pathVariables: { image_id: "{{smallImageId}}" },
        status: 200,
        tests: [
          `pm.test("trashed, with when it goes", () => {`,
          `  pm.expect(body.status).to.equal("trashed");`,
          `  pm.expect(Date.parse(body.purge_at)).to.be.above(Date.parse(body.trashed_at));`,
          `});`,
        ],
      },
      {
        name: "List the trash",
        operationId: "listImages",
        query: { trashed: "true", limit: "100" },
        status: 200,
        tests: [
          expectIds(["smallImageId"]),
          `pm.test("in no other listing", () => pm.expect(body.items.every((item) => item.status === "trashed")).to.be.true);`,
        ],
      },
      {
        name: "Restore the image",
        operationId: "restoreImage",
        pathVariables: { image_id: "{{smallImageId}}" },
        status: 200,
        tests: [
          `pm.test("ready again, with its tags", () => {`,
          `  pm.expect(body.status).to.equal("ready");`,
          `  pm.expect(body.tags).to.include(pm.variables.get("runTag"));`,
          `});`,
        ],
      },
    ],
  },
  {
    name: "8. Delete",
    description: "Both images go; the first is then not found.",
    steps: [
      {
        name: "Delete the multipart upload",
        operationId: "deleteImage",
        pathVariables: { image_id: "{{smallImageId}}" },
        status: 204,
      },
      {
        name: "Get the deleted image",
        operationId: "getImage",
        pathVariables: { image_id: "{{smallImageId}}" },
        status: 404,
      },
      {
        name: "Delete the large upload",
        operationId: "deleteImage",
        pathVariables: { image_id: "{{largeImageId}}" },
        status: 204,
      },
    ],
  },
  {
    name: "9. Error answers",
    description: "Problem JSON (RFC 9457) for a missing token, an unknown id, a bad date and a file that is no image.",
    steps: [
      {
        name: "No token",
        operationId: "listImages",
        noAuth: true,
        status: 401,
        tests: [
          `pm.test("asks for a bearer token", () => pm.expect(pm.response.headers.get("WWW-Authenticate")).to.match(/^Bearer/));`,
        ],
      },
      {
        name: "Unknown id",
        operationId: "getImage",
        pathVariables: { image_id: UNKNOWN_ID },
        status: 404,
      },
      {
        name: "Bad date",
        operationId: "listImages",
        query: { from: "yesterday" },
        status: 400,
        tests: [
          `pm.test("names the field and the format", () => {`,
          `  pm.expect(body.errors.map((e) => e.path)).to.eql(["from"]);`,
          `  pm.expect(body.detail).to.include("YYYY-MM-DD");`,
          `});`,
        ],
      },
      {
        name: "A file that is no image",
        operationId: "uploadImage",
        form: [
          { key: "file", file: FIXTURES.notAccepted.src },
          { key: "title", value: "Not an image" },
        ],
        status: 415,
        tests: [`pm.test("names the accepted formats", () => pm.expect(body.detail).to.include("JPEG"));`],
      },
    ],
  },
];
