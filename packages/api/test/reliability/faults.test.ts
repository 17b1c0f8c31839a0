import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, tinyPng } from "../../../core/test/support/fixtures.ts";
import { signDevelopmentToken } from "../../src/development-token.ts";
import { recordCounts } from "./support/counts.ts";
import { installFaultInjector, type FaultTiming } from "./support/fault-injector.ts";
import { startHttpApi, type HttpApi } from "./support/http-api.ts";

/**
 * Every step of upload, finish, update and delete, failed one at a time: throttling before a
 * call, and a lost answer after a call that took effect. The client sees 503 with
 * Retry-After (or success, when the step was not needed for the answer), retries once, and
 * then the store checker must find nothing wrong.
 */
let api: HttpApi;
let faults: ReturnType<typeof installFaultInjector>;
let auth: Record<string, string>;
let requests = 0;
let unexpected = 0;
let violationsFound = 0;

beforeAll(async () => {
  api = await startHttpApi({ UPLOAD_RATE_LIMIT_PER_MINUTE: "100000" }, { autoFinish: false });
  faults = installFaultInjector(api.clients);
  auth = { authorization: `Bearer ${await signDevelopmentToken("fay")}` };
});
afterAll(async () => {
  recordCounts({ requests, faults: faults?.injected ?? 0, violations: violationsFound, unexpected });
  await api?.stop();
});

async function send(method: string, path: string, body?: RequestInit["body"], headers: Record<string, string> = {}) {
  requests += 1;
  return fetch(`${api.base}${path}`, { method, headers: { ...auth, ...headers }, body });
}

async function uploadForm(seed: number, key: string) {
  const form = new FormData();
  form.append("file", new Blob([await tinyPng(seed)]));
  form.append("title", `fault ${seed}`);
  form.append("tags", "faults,retry");
  return send("POST", "/images/upload", form, { "idempotency-key": key });
}

async function newImage(seed: number): Promise<string> {
  const response = await uploadForm(seed, `setup-${seed}-${Math.random()}`);
  expect(response.status).toBe(201);
  return ((await response.json()) as { image_id: string }).image_id;
}

/** A failed first try must be a 503 that says when to retry; anything else is a bug. */
async function expectFailedOrOk(response: Response, ok: number) {
  if (response.status === ok) return true;
  if (response.status !== 503) unexpected += 1;
  expect(response.status, await response.clone().text()).toBe(503);
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
  return false;
}

async function expectClean() {
  const violations = await api.violations();
  violationsFound += violations.length;
  expect(violations).toEqual([]);
}

const TIMINGS: FaultTiming[] = ["before", "after"];
/** Steps whose lost answer the design must absorb: writes of items and objects. */
const takesEffect = (call: string) =>
  /Transact|PutObject|DeleteObjects|CompleteMultipart|UploadPart|CreateMultipart|Delete(Command)?$|Put(Command)?$/.test(
    call,
  );

describe("injected faults", () => {
  it("upload: each step fails once; a retry with the same Idempotency-Key stores the image once", async () => {
    let seed = 100;
    const steps = await faults.record(() => uploadForm(seed++, `record-${seed}`));
    expect(steps.length).toBeGreaterThanOrEqual(4);
    for (const [index, call] of steps.entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && (!takesEffect(call) || call.includes("PutCommand"))) continue;
        const key = `upload-${index}-${timing}`;
        const image = seed++;
        const first = await faults.failing(index, timing, () => uploadForm(image, key));
        const ok = await expectFailedOrOk(first, 201);
        const final = ok ? first : await uploadForm(image, key);
        expect(final.status, `${call} ${timing}`).toBe(201);
        const { image_id } = (await final.json()) as { image_id: string };
        expect((await send("GET", `/images/${image_id}`)).status).toBe(200);
        await expectClean();
      }
    }
  });

  it("update: each step fails once; a retry applies the edit, tag items and all", async () => {
    const imageId = await newImage(1);
    let round = 0;
    const patch = () =>
      send("PATCH", `/images/${imageId}`, JSON.stringify({ title: `round ${round}`, tags: [`r${round}`, "kept"] }), {
        "content-type": "application/json",
      });
    const steps = await faults.record(patch);
    for (const [index, call] of steps.entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && !takesEffect(call)) continue;
        round += 1;
        const first = await faults.failing(index, timing, patch);
        if (!(await expectFailedOrOk(first, 200))) expect((await patch()).status).toBe(200);
        const image = (await (await send("GET", `/images/${imageId}`)).json()) as { tags: string[]; title: string };
        expect(image).toMatchObject({ title: `round ${round}`, tags: [`r${round}`, "kept"] });
        await expectClean();
      }
    }
  });

  it("delete: each step fails once; a retry removes the image, its bytes and every item", async () => {
    let seed = 300;
    const steps = await faults.record(async () => send("DELETE", `/images/${await newImage(seed++)}`));
    const setupCalls = (await faults.record(() => newImage(seed++))).length;
    for (const [index, call] of steps.slice(setupCalls).entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && !takesEffect(call)) continue;
        const imageId = await newImage(seed++);
        const remove = () => send("DELETE", `/images/${imageId}`);
        const first = await faults.failing(index, timing, remove);
        if (!(await expectFailedOrOk(first, 204))) {
          const retry = await remove();
          expect([204, 404], `${call} ${timing}`).toContain(retry.status);
        }
        expect((await send("GET", `/images/${imageId}`)).status).toBe(404);
        expect(await api.itemsOf(imageId)).toEqual([]);
        await expectClean();
      }
    }
  });

  it("finish: each step of checking a large upload fails once; the retried event makes it ready", async () => {
    const jpeg = fixture("FreshFlower.jpg");
    let n = 0;
    async function pendingUpload() {
      const response = await send(
        "POST",
        "/images/upload",
        JSON.stringify({ title: `large ${n++}`, tags: ["big"], content_type: "image/jpeg", size_bytes: jpeg.length }),
        { "content-type": "application/json" },
      );
      const { image, upload } = (await response.json()) as {
        image: { image_id: string };
        upload: { url: string; fields: Record<string, string> };
      };
      const form = new FormData();
      for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
      form.append("file", new Blob([jpeg], { type: "image/jpeg" }));
      expect((await fetch(upload.url, { method: "POST", body: form })).status).toBeLessThan(300);
      return { imageId: image.image_id, key: upload.fields.key! };
    }
    const first = await pendingUpload();
    const steps = await faults.record(() => api.store.finishUpload(first.key));
    expect(steps.length).toBeGreaterThanOrEqual(5);
    for (const [index, call] of steps.entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && !takesEffect(call)) continue;
        const { imageId, key } = await pendingUpload();
        const outcome = await faults
          .failing(index, timing, () => api.store.finishUpload(key))
          .catch((error: { kind?: string }) => {
            if (error.kind !== "unavailable") unexpected += 1;
            expect(error.kind, `${call} ${timing}`).toBe("unavailable");
            return "retry";
          });
        if (outcome === "retry") await api.store.finishUpload(key);
        const image = (await (await send("GET", `/images/${imageId}`)).json()) as { status: string };
        expect(image.status, `${call} ${timing}`).toBe("ready");
        await expectClean();
      }
    }
  });

  it("reads: a throttled list or get answers 503 with Retry-After, then works", async () => {
    const imageId = await newImage(999);
    for (const path of ["/images?tag=faults", `/images/${imageId}`, "/images"]) {
      const first = await faults.failing(0, "before", () => send("GET", path));
      expect(await expectFailedOrOk(first, 200)).toBe(false);
      expect((await send("GET", path)).status).toBe(200);
    }
  });
});
