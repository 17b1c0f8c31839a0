/**
 * Section 4: the API under load from autocannon (50 connections) beside the same operations
 * made straight with the AWS SDK, both served by one child process on the same emulators
 * (bench/load-server.ts), so the ratio is the app's own overhead: routing, validation, the token
 * check, the log line, ElectroDB, and for uploads the image processing.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import autocannon, { type Result } from "autocannon";
import {
  BENCH_DIR,
  childEnv,
  FIXTURES_DIR,
  ms,
  multipart,
  ratio,
  table,
  TS_NODE_ARGS,
  type SectionResult,
} from "./support.ts";

const CONNECTIONS = 50;
const READ_P50_TARGET = 1.3;
const ROUNDS = 2;

/** Rounds of one side together: requests and errors added, rates and latencies averaged. */
function combine(runs: Measured[]): Measured {
  const mean = (pick: (run: Measured) => number) => runs.reduce((sum, run) => sum + pick(run), 0) / runs.length;
  return {
    rps: mean((run) => run.rps),
    p50: mean((run) => run.p50),
    p99: mean((run) => run.p99),
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
  };
}

interface Ready {
  appUrl: string;
  directUrl: string;
  ids: string[];
  tag: string;
  token: string;
}

interface Diagnosis {
  rows: Record<string, { direct: number; store?: number; app?: number } & Record<string, number>>;
  presigning: { getSignedUrl: number; "the store's signer": number };
}

interface Scenario {
  name: string;
  read: boolean;
  seconds: number;
  request(ready: Ready): {
    method: string;
    path?: string;
    body?: Buffer;
    headers?: Record<string, string>;
    rotate?: string[];
  };
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

async function hammer(
  base: string,
  token: string,
  spec: ReturnType<Scenario["request"]>,
  seconds: number,
  extraHeaders: Record<string, string> = {},
): Promise<Measured> {
  let next = 0;
  const rotate = spec.rotate;
  const result: Result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: spec.method,
        path: spec.path,
        body: spec.body,
        headers: { authorization: `Bearer ${token}`, ...spec.headers, ...extraHeaders },
        ...(rotate
          ? { setupRequest: (request) => ({ ...request, path: `/images/${rotate[next++ % rotate.length]}` }) }
          : {}),
      },
    ],
  });
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

export interface LoadOptions {
  seconds: number;
  uploadSeconds: number;
  log(message: string): void;
}

export async function runLoad(options: LoadOptions): Promise<SectionResult> {
  const jpeg = await readFile(resolve(FIXTURES_DIR, "FreshFlower.jpg"));
  const upload = multipart(
    { title: "Fresh flower", tags: "flowers,spring" },
    { name: "FreshFlower.jpg", type: "image/jpeg", bytes: jpeg },
  );
  const scenarios: Scenario[] = [
    {
      name: "GET /images/{id}",
      read: true,
      seconds: options.seconds,
      request: (ready) => ({ method: "GET", path: `/images/${ready.ids[0]}`, rotate: ready.ids }),
    },
    {
      name: "GET /images?tag=… (20 a page)",
      read: true,
      seconds: options.seconds,
      request: (ready) => ({ method: "GET", path: `/images?tag=${ready.tag}` }),
    },
    {
      name: `POST /images/upload, multipart, ${(jpeg.byteLength / 1024).toFixed(0)} KiB JPEG`,
      read: false,
      seconds: options.uploadSeconds,
      request: () => ({
        method: "POST",
        path: "/images/upload",
        body: upload.body,
        headers: { "content-type": upload.contentType },
      }),
    },
  ];

  const child = fork(resolve(BENCH_DIR, "load-server.ts"), [], {
    // BENCH_PROFILE_LOAD=<dir>: a CPU profile of the server process, to see where a request's time goes.
    execArgv: [
      ...TS_NODE_ARGS,
      ...(process.env.BENCH_PROFILE_LOAD ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_PROFILE_LOAD] : []),
    ],
    env: childEnv(),
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  try {
    const [ready] = (await Promise.race([
      once(child, "message"),
      once(child, "exit").then(() => Promise.reject(new Error("the load server exited before it was ready"))),
    ])) as [Ready];
    const rows: (string | number)[][] = [];
    const checks: SectionResult["checks"] = [];
    const data: Record<string, { app: Measured; direct: Measured; directStoreSigning?: Measured }> = {};
    // The direct path again, its links signed as the store signs them (not getSignedUrl).
    const storeSigning = { "x-bench-signing": "store" };
    const only = process.env.BENCH_LOAD_ONLY;
    for (const scenario of scenarios.filter((s) => !only || s.name.startsWith(only))) {
      const spec = scenario.request(ready);
      // A short unrecorded run each warms the JIT, the connections and the emulators.
      await hammer(ready.appUrl, ready.token, spec, 1);
      await hammer(ready.directUrl, ready.token, spec, 1);
      // Two rounds each, taking turns, so a burst of noise on the machine does not land on one side only.
      if (scenario.read) await hammer(ready.directUrl, ready.token, spec, 1, storeSigning);
      const appRuns: Measured[] = [];
      const directRuns: Measured[] = [];
      const directStoreRuns: Measured[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        appRuns.push(await hammer(ready.appUrl, ready.token, spec, scenario.seconds));
        directRuns.push(await hammer(ready.directUrl, ready.token, spec, scenario.seconds));
        if (scenario.read) {
          directStoreRuns.push(await hammer(ready.directUrl, ready.token, spec, scenario.seconds, storeSigning));
        }
      }
      const app = combine(appRuns);
      const direct = combine(directRuns);
      const directStore = scenario.read ? combine(directStoreRuns) : undefined;
      options.log(`  ${scenario.name}: app ${app.rps.toFixed(0)} req/s, direct ${direct.rps.toFixed(0)} req/s`);
      data[scenario.name] = { app, direct, ...(directStore ? { directStoreSigning: directStore } : {}) };
      const p50Ratio = app.p50 / direct.p50;
      rows.push([
        scenario.name,
        `${app.rps.toFixed(0)} / ${direct.rps.toFixed(0)}`,
        `${ms(app.p50, 0)} / ${ms(direct.p50, 0)}`,
        ratio(p50Ratio),
        directStore
          ? `${ratio(app.p50 / directStore.p50)} (${directStore.rps.toFixed(0)} req/s, p50 ${ms(directStore.p50, 0)})`
          : "-",
        `${ms(app.p99, 0)} / ${ms(direct.p99, 0)}`,
        `${app.errors} of ${app.requests} / ${direct.errors} of ${direct.requests}`,
        scenario.read ? (p50Ratio <= READ_P50_TARGET ? "met" : "**missed**") : "(no target)",
      ]);
      checks.push({
        section: "4. Load",
        what: `${scenario.name}: errors`,
        value: `${app.errors} of ${app.requests}`,
        target: "0",
        met: app.errors === 0,
      });
      if (scenario.read) {
        checks.push({
          section: "4. Load",
          what: `${scenario.name}: app p50 / direct SDK p50`,
          value: `${ratio(p50Ratio)} (${ms(app.p50, 0)} / ${ms(direct.p50, 0)} ms)`,
          target: `≤ ${READ_P50_TARGET}×`,
          met: p50Ratio <= READ_P50_TARGET,
        });
      }
    }
    child.send({
      type: "diagnose",
      jpeg: resolve(FIXTURES_DIR, "FreshFlower.jpg"),
      ids: ready.ids,
      token: ready.token,
    });
    const [reply] = (await once(child, "message")) as [{ result?: Diagnosis; error?: string }];
    if (!reply.result) throw new Error(`the diagnosis failed: ${reply.error}`);
    const diagnosis = reply.result;
    const main = ["direct", "store", "app"];
    const diagnosisRows = Object.entries(diagnosis.rows).map(([name, row]) => [
      name,
      ms(row.direct, 2),
      row.store === undefined ? "-" : ms(row.store, 2),
      row.app === undefined ? "-" : ms(row.app, 2),
      row.app === undefined ? "-" : ms(row.app - row.direct, 2),
      Object.entries(row)
        .filter(([way]) => !main.includes(way))
        .map(([way, value]) => `${way}: ${ms(value, 2)}`)
        .join("; "),
    ]);
    const markdown = [
      `autocannon, ${CONNECTIONS} connections, on 127.0.0.1: per operation and side an unrecorded 1 s warm-up, then ` +
        `${ROUNDS} runs of ${options.seconds} s (reads) or ${options.uploadSeconds} s (uploads), app and direct taking ` +
        `turns; rates and latencies are the mean of the runs. One child process holds the emulators ` +
        `(1,000 images seeded), the API built as \`src/dev-server.ts\` builds it (logging at info, per-user upload ` +
        `limit raised because one token sends every upload) and a bare \`node:http\` server doing the same operations ` +
        `straight with the AWS SDK: GetItem plus the two presigned links (with \`getSignedUrl\`, the SDK's ` +
        `documented way; for reads a third side signs them as the store does); the tag Query of 21 items and its 20 ` +
        `thumbnail links; PutObject plus ` +
        `the TransactWriteItems of the image and tag items, without decoding, re-encoding or a thumbnail. ` +
        `Cells read "app / direct"; latency in ms; errors are socket errors, timeouts and non-2xx answers.`,
      "",
      table(
        [
          "operation",
          "req/s",
          "p50 (ms)",
          "p50 app / direct",
          "p50 app / direct signing links the store's way",
          "p99 (ms)",
          "errors",
          `target p50 ≤ ${READ_P50_TARGET}× (reads)`,
        ],
        rows,
      ),
      "",
      `Where the difference goes: the same operations one at a time in the server process (no queueing, no ` +
        `sockets), ms per call: straight with the SDK, through the store (\`packages/core\`: ElectroDB, ` +
        `validation, links, image processing), and through the whole app with \`app.request()\` (routing, token ` +
        `check, request validation, the log line, JSON).`,
      "",
      table(["operation", "direct SDK", "store", "app in-process", "app − direct", "more ways"], diagnosisRows),
      "",
      `One presigned GET link costs ${ms(diagnosis.presigning.getSignedUrl, 3)} ms with \`getSignedUrl\` (the ` +
        `client's whole middleware stack: endpoint rules, serialisation, signing) and ` +
        `${ms(diagnosis.presigning["the store's signer"], 3)} ms the store's way ` +
        `(\`packages/core/src/storage/link-signer.ts\`: the bucket's endpoint resolved once, then one ` +
        `\`S3RequestPresigner.presign\`; the same URL byte for byte).`,
    ].join("\n");
    return { title: "4. Load", markdown, checks, data: { ...data, diagnosis } };
  } finally {
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    clearTimeout(timer);
  }
}
