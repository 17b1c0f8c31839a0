import { createHash } from "node:crypto";
import { createImageStore } from "@images/core";
import { createImageEventConsumer } from "@images/core/events/consumer";
import type { ChangeRecord } from "@images/core/events/change-record";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../../core/test/support/fixtures.ts";
import { signDevelopmentToken } from "../../src/development-token.ts";
import { recordCounts } from "./support/counts.ts";
import { installFaultInjector, type FaultTiming } from "./support/fault-injector.ts";
import { startHttpApi, type HttpApi } from "./support/http-api.ts";

/**
 * Recently deleted and duplicates under faults and concurrency: every step of trash, restore
 * and a refused duplicate upload failed once (throttling before a call, a lost answer after
 * one that took effect), then retried; many clients at once on one image and on one file. After
 * each, the store checker must find nothing wrong.
 */
let api: HttpApi;
let faults: ReturnType<typeof installFaultInjector>;
let auth: Record<string, string>;
let requests = 0;
let concurrent = 0;
let unexpected = 0;
let violationsFound = 0;

beforeAll(async () => {
  api = await startHttpApi({ UPLOAD_RATE_LIMIT_PER_MINUTE: "100000" }, { autoFinish: false });
  faults = installFaultInjector(api.clients);
  auth = { authorization: `Bearer ${await signDevelopmentToken("liv")}` };
});
afterAll(async () => {
  recordCounts({ requests, concurrent, faults: faults?.injected ?? 0, violations: violationsFound, unexpected });
  await api?.stop();
});

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function send(method: string, path: string, body?: RequestInit["body"], headers: Record<string, string> = {}) {
  requests += 1;
  return fetch(`${api.base}${path}`, { method, headers: { ...auth, ...headers }, body });
}

async function uploadForm(bytes: Uint8Array, query = "", headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append("file", new Blob([bytes]));
  form.append("title", "lifecycle");
  form.append("tags", "life,cycle");
  return send("POST", `/images/upload${query}`, form, headers);
}

let seed = 500;
async function newImage(): Promise<string> {
  const response = await uploadForm(await tinyPng(seed++));
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

const status = async (imageId: string) =>
  ((await (await send("GET", `/images/${imageId}`)).json()) as { status: string }).status;
const listed = async (path: string) =>
  ((await (await send("GET", path)).json()) as { items: { image_id: string }[] }).items.map((item) => item.image_id);

const TIMINGS: FaultTiming[] = ["before", "after"];
const takesEffect = (call: string) => /Transact|Update|Put|Delete/.test(call);

describe("trash and restore under injected faults", () => {
  it("trash: each step fails once; a retry trashes it, out of every listing", async () => {
    const steps = await faults.record(async () => send("POST", `/images/${await newImage()}/trash`));
    const setupCalls = (await faults.record(() => newImage())).length;
    for (const [index, call] of steps.slice(setupCalls).entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && !takesEffect(call)) continue;
        const imageId = await newImage();
        const trash = () => send("POST", `/images/${imageId}/trash`);
        const first = await faults.failing(index, timing, trash);
        if (!(await expectFailedOrOk(first, 200))) expect((await trash()).status, `${call} ${timing}`).toBe(200);
        expect(await status(imageId)).toBe("trashed");
        expect(await listed("/images?tag=life")).not.toContain(imageId);
        expect(await listed("/images?trashed=true&limit=100")).toContain(imageId);
        await expectClean();
      }
    }
  });

  it("restore: each step fails once; a retry makes it ready with its tags, listed again", async () => {
    const imageId = await newImage();
    expect((await send("POST", `/images/${imageId}/trash`)).status).toBe(200);
    const restore = () => send("POST", `/images/${imageId}/restore`);
    const steps = await faults.record(restore);
    for (const [index, call] of steps.entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && !takesEffect(call)) continue;
        expect((await send("POST", `/images/${imageId}/trash`)).status).toBe(200);
        const first = await faults.failing(index, timing, restore);
        if (!(await expectFailedOrOk(first, 200))) expect((await restore()).status, `${call} ${timing}`).toBe(200);
        expect(await status(imageId)).toBe("ready");
        expect(await listed("/images?tag=cycle&limit=100")).toContain(imageId);
        await expectClean();
      }
    }
  });

  it("a duplicate upload refused: each step fails once; the retry still stores nothing twice", async () => {
    const bytes = await tinyPng(seed++);
    const firstId = ((await (await uploadForm(bytes)).json()) as { image_id: string }).image_id;
    const steps = await faults.record(() => uploadForm(bytes, "?on_duplicate=reject"));
    for (const [index, call] of steps.entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && !takesEffect(call)) continue;
        const first = await faults.failing(index, timing, () => uploadForm(bytes, "?on_duplicate=reject"));
        const answer = (await expectFailedOrOk(first, 409)) ? first : await uploadForm(bytes, "?on_duplicate=reject");
        expect(answer.status, `${call} ${timing}`).toBe(409);
        expect(((await answer.json()) as { existing_image_id: string }).existing_image_id).toBe(firstId);
        await expectClean();
      }
    }
    const check = await send("POST", "/images/check", JSON.stringify({ sha256: [sha256(bytes)] }), {
      "content-type": "application/json",
    });
    expect(await check.json()).toEqual({ known: [{ sha256: sha256(bytes), image_id: firstId }] });
  });

  it("check: a throttled BatchGet answers 503 with Retry-After, then works", async () => {
    const ask = () =>
      send("POST", "/images/check", JSON.stringify({ sha256: [sha256(new Uint8Array([1]))] }), {
        "content-type": "application/json",
      });
    expect(await expectFailedOrOk(await faults.failing(0, "before", ask), 200)).toBe(false);
    expect((await ask()).status).toBe(200);
  });
});

describe("the purge after TRASH_DAYS, under injected faults", () => {
  it("TTL removes a trashed image; each step of the purge fails once, the retried record leaves nothing behind", async () => {
    const local = api.localAws!;
    // Trashed 31 days ago: its TTL has passed.
    const past = createImageStore({
      config: api.config,
      clients: api.clients,
      now: () => new Date(Date.now() - 31 * 86_400_000),
    });
    const consume = createImageEventConsumer({ config: api.config, clients: api.clients, publish: async () => {} });
    const purgeOne = async () => {
      const imageId = await newImage();
      await past.trash(imageId, "liv");
      const mark = local.changes.records().length;
      expect(await local.sweepExpired()).toBeGreaterThanOrEqual(1);
      const removal = local.changes
        .records()
        .slice(mark)
        .filter((record) => record.userIdentity && JSON.stringify(record.dynamodb.Keys).includes(imageId));
      expect(removal).toHaveLength(1);
      return { imageId, record: removal[0] as unknown as ChangeRecord };
    };
    const first = await purgeOne();
    const steps = await faults.record(() => consume([first.record]));
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (const [index, call] of steps.entries()) {
      for (const timing of TIMINGS) {
        if (timing === "after" && !takesEffect(call)) continue;
        const { imageId, record } = await purgeOne();
        const result = await faults.failing(index, timing, () => consume([record]));
        // A failed purge names its record, and Lambda (here, the test) hands it over again.
        if (result.batchItemFailures.length > 0) {
          expect(result.batchItemFailures).toEqual([{ itemIdentifier: record.dynamodb.SequenceNumber }]);
          expect(await consume([record])).toEqual({ batchItemFailures: [] });
        }
        expect(await api.itemsOf(imageId), `${call} ${timing}`).toEqual([]);
        expect((await api.objectKeys()).filter((key) => key.includes(imageId))).toEqual([]);
        await expectClean();
      }
    }
    // Purged images are gone for good: 404, in no trash, known by no digest.
    expect((await send("GET", `/images/${first.imageId}`)).status).toBe(404);
    expect((await send("POST", `/images/${first.imageId}/restore`)).status).toBe(404);
    expect(await listed("/images?trashed=true&limit=100")).not.toContain(first.imageId);
  });
});

describe("many clients at once", () => {
  it("20 clients upload one file with on_duplicate=reject: one is stored, 19 are told which", async () => {
    const bytes = await tinyPng(seed++);
    concurrent += 20;
    const answers = await Promise.all(Array.from({ length: 20 }, () => uploadForm(bytes, "?on_duplicate=reject")));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses.filter((code) => code === 201)).toHaveLength(1);
    expect(statuses.filter((code) => code !== 201 && code !== 409)).toEqual([]);
    const stored = (await answers.find((answer) => answer.status === 201)!.json()) as { image_id: string };
    for (const answer of answers.filter((one) => one.status === 409)) {
      expect(((await answer.json()) as { existing_image_id: string }).existing_image_id).toBe(stored.image_id);
    }
    await expectClean();
  });

  it("trash, restore, edit and delete from 12 clients on one image end in one state the listings agree with", async () => {
    for (let round = 0; round < 3; round++) {
      const imageId = await newImage();
      const actions = Array.from({ length: 12 }, (_, i) => {
        const kind = ["trash", "restore", "edit", round === 2 && i === 11 ? "delete" : "trash"][i % 4]!;
        if (kind === "edit") {
          return () =>
            send("PATCH", `/images/${imageId}`, JSON.stringify({ tags: [`t${i}`] }), {
              "content-type": "application/json",
            });
        }
        if (kind === "delete") return () => send("DELETE", `/images/${imageId}`);
        return () => send("POST", `/images/${imageId}/${kind}`);
      });
      concurrent += actions.length;
      const answers = await Promise.all(actions.map((action) => action()));
      for (const answer of answers) {
        if (![200, 204, 404, 409].includes(answer.status)) unexpected += 1;
        expect([200, 204, 404, 409]).toContain(answer.status);
      }
      const found = await send("GET", `/images/${imageId}`);
      const state = found.status === 404 ? "gone" : ((await found.json()) as { status: string }).status;
      const inListing = (await listed("/images?user_id=liv&limit=100")).includes(imageId);
      const inTrash = (await listed("/images?trashed=true&limit=100")).includes(imageId);
      expect([inListing, inTrash]).toEqual([state === "ready", state === "trashed"]);
      await expectClean();
    }
  });
});
