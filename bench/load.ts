/**
 * Section 4: the API under load from autocannon beside the same operations made straight with
 * the AWS SDK, both served by one child process on the same emulators (bench/load-server.ts), so
 * the ratio is the app's own overhead: routing, validation, the token check, the log line,
 * ElectroDB, and for uploads the image processing.
 *
 * Reads run with 50 connections. Uploads run with one connection per core: each costs some
 * 125 ms of CPU (libvips decoding and encoding, the main thread's parsing and hashing), so the
 * process finishes at most about 8 a second per core, and connections past one per core mostly
 * wait in the queue (on 2 shared cores, 1, 2, 4 and 8 connections: 32, 34, 44 and 36 uploads in
 * 5 s, p50 145, 277, 445 and 1011 ms). With 50 an upload waited 3 to 6 s,
 * longer than the 1 s warm-up, and every run ended with 50 uploads still in the server, which
 * went on working on them into the next run's window: the app's rounds completed none.
 * Every run (warm-ups too) is therefore followed by waiting until the server has finished what
 * the run left in flight.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
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

const READ_CONNECTIONS = 50;
const UPLOAD_CONNECTIONS = availableParallelism();
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
    loopBusy: mean((run) => run.loopBusy),
    leftInFlight: runs.reduce((sum, run) => sum + run.leftInFlight, 0),
    drainMs: runs.reduce((sum, run) => sum + run.drainMs, 0),
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
  connections: number;
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
  /** Answers received in the window, any status. */
  requests: number;
  /** Socket errors (timeouts among them) and answers other than 2xx. */
  errors: number;
  /** The share of the window the server's event loop was busy (it runs the emulators and both servers). */
  loopBusy: number;
  /** Requests the server was still working on when the window closed, and how long they took to finish. */
  leftInFlight: number;
  drainMs: number;
}

/** Sends the load server a message and waits for its answer of type `reply`. */
async function ask<T>(child: ChildProcess, message: object, reply: string): Promise<T> {
  const answer = new Promise<T>((resolve, reject) => {
    const onMessage = (received: { type?: string }) => {
      if (received.type !== reply) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(received as T);
    };
    const onExit = () => reject(new Error(`the load server exited while the bench waited for "${reply}"`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
  child.send(message);
  return answer;
}

async function hammer(
  child: ChildProcess,
  base: string,
  token: string,
  spec: ReturnType<Scenario["request"]>,
  run: { seconds: number; connections: number },
  extraHeaders: Record<string, string> = {},
): Promise<Measured> {
  let next = 0;
  const rotate = spec.rotate;
  type Busy = { utilisation: number };
  await ask<Busy>(child, { type: "utilisation" }, "utilisation");
  const result: Result = await autocannon({
    url: base,
    connections: run.connections,
    duration: run.seconds,
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
  // autocannon closes its sockets at the window's end; what the server still works on must not
  // run into the next run.
  const { utilisation } = await ask<Busy>(child, { type: "utilisation" }, "utilisation");
  const drained = await ask<{ left: number; stuck: number; ms: number }>(child, { type: "drain" }, "drained");
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    // autocannon counts a timeout among its errors too; a request the server had not finished a
    // minute after the window is one as well.
    errors: result.errors + result.non2xx + drained.stuck,
    loopBusy: utilisation,
    leftInFlight: drained.left,
    drainMs: drained.ms,
  };
}

/** What the upload row says about where an upload's time goes. */
function uploadsNote(
  fitted: { app: Measured; direct: Measured },
  crowded: { app: Measured; direct: Measured },
): string {
  const percent = (share: number) => `${(share * 100).toFixed(0)}%`;
  const { app, direct } = fitted;
  return (
    `Uploads are CPU-bound, so they get one connection per core. With ${UPLOAD_CONNECTIONS} the server's event ` +
    `loop was busy ${percent(app.loopBusy)} of the app's windows and ${percent(direct.loopBusy)} of the direct ` +
    `path's. An app upload's CPU is mostly libvips' (decoding, re-encoding, four WebP renditions) on its own ` +
    `threads, so its rate is what the cores give; the direct path's work (dynalite, s3rver, the transactions ` +
    `proxy, the SDK) is all JavaScript on that one loop. More connections add no cores: with ` +
    `${READ_CONNECTIONS} the app answered ${crowded.app.rps.toFixed(0)} and the direct path ` +
    `${crowded.direct.rps.toFixed(0)} a second, each upload waiting behind the others (p50 ` +
    `${ms(crowded.app.p50, 0)} / ${ms(crowded.direct.p50, 0)} ms), and the app's run ended with ` +
    `${crowded.app.leftInFlight} uploads still in the server, ${(crowded.app.drainMs / 1000).toFixed(1)} s of ` +
    `work. Before this section waited for them after each run, that backlog ran into the next run's window, ` +
    `and the app's rounds completed no upload at all.`
  );
}

/** Met only when the side answered at least one request and nothing but 2xx: no answers is no measurement. */
export const cleanRun = (run: Pick<Measured, "requests" | "errors">) => run.requests > 0 && run.errors === 0;

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
      connections: READ_CONNECTIONS,
      request: (ready) => ({ method: "GET", path: `/images/${ready.ids[0]}`, rotate: ready.ids }),
    },
    {
      name: "GET /images?tag=… (20 a page)",
      read: true,
      seconds: options.seconds,
      connections: READ_CONNECTIONS,
      request: (ready) => ({ method: "GET", path: `/images?tag=${ready.tag}` }),
    },
    {
      name: `POST /images/upload, multipart, ${(jpeg.byteLength / 1024).toFixed(0)} KiB JPEG`,
      read: false,
      seconds: options.uploadSeconds,
      connections: UPLOAD_CONNECTIONS,
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
      const warmUp = { seconds: 1, connections: scenario.connections };
      const recorded = { seconds: scenario.seconds, connections: scenario.connections };
      // A short unrecorded run each warms the JIT, the connections and the emulators.
      await hammer(child, ready.appUrl, ready.token, spec, warmUp);
      await hammer(child, ready.directUrl, ready.token, spec, warmUp);
      // Two rounds each, taking turns, so a burst of noise on the machine does not land on one side only.
      if (scenario.read) await hammer(child, ready.directUrl, ready.token, spec, warmUp, storeSigning);
      const appRuns: Measured[] = [];
      const directRuns: Measured[] = [];
      const directStoreRuns: Measured[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        appRuns.push(await hammer(child, ready.appUrl, ready.token, spec, recorded));
        directRuns.push(await hammer(child, ready.directUrl, ready.token, spec, recorded));
        if (scenario.read) {
          directStoreRuns.push(await hammer(child, ready.directUrl, ready.token, spec, recorded, storeSigning));
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
      if (!scenario.read) {
        // Why uploads get fewer connections: one round each with as many as the reads, not a target.
        const crowded = { seconds: scenario.seconds, connections: READ_CONNECTIONS };
        const appCrowded = await hammer(child, ready.appUrl, ready.token, spec, crowded);
        const directCrowded = await hammer(child, ready.directUrl, ready.token, spec, crowded);
        data[`${scenario.name}, ${READ_CONNECTIONS} connections`] = { app: appCrowded, direct: directCrowded };
        rows.push([
          `… the same with ${READ_CONNECTIONS} connections, one run each (not a target)`,
          `${appCrowded.rps.toFixed(0)} / ${directCrowded.rps.toFixed(0)}`,
          `${ms(appCrowded.p50, 0)} / ${ms(directCrowded.p50, 0)}`,
          ratio(appCrowded.p50 / directCrowded.p50),
          "-",
          `${ms(appCrowded.p99, 0)} / ${ms(directCrowded.p99, 0)}`,
          `${appCrowded.errors} of ${appCrowded.requests} / ${directCrowded.errors} of ${directCrowded.requests}`,
          `(left in flight: ${appCrowded.leftInFlight} / ${directCrowded.leftInFlight}, finished in ` +
            `${(appCrowded.drainMs / 1000).toFixed(1)} / ${(directCrowded.drainMs / 1000).toFixed(1)} s)`,
        ]);
      }
      checks.push({
        section: "4. Load",
        what: `${scenario.name}: errors (app, direct)`,
        value: `${app.errors} of ${app.requests}, ${direct.errors} of ${direct.requests}`,
        target: "0, and ≥ 1 answered each",
        met: cleanRun(app) && cleanRun(direct),
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
    const reply = await ask<{ result?: Diagnosis; error?: string }>(
      child,
      { type: "diagnose", jpeg: resolve(FIXTURES_DIR, "FreshFlower.jpg"), ids: ready.ids, token: ready.token },
      "diagnosis",
    );
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
    const uploadName = scenarios.find((s) => !s.read)!.name;
    const uploads = data[uploadName];
    const crowded = data[`${uploadName}, ${READ_CONNECTIONS} connections`];
    const markdown = [
      `autocannon on 127.0.0.1, ${READ_CONNECTIONS} connections for reads and ${UPLOAD_CONNECTIONS} (one per core) ` +
        `for uploads, which are CPU-bound (see below): per operation and side an unrecorded 1 s warm-up, then ` +
        `${ROUNDS} runs of ${options.seconds} s (reads) or ${options.uploadSeconds} s (uploads), app and direct taking ` +
        `turns; rates and latencies are the mean of the runs. One child process holds the emulators ` +
        `(1,000 images seeded), the API built as \`src/dev-server.ts\` builds it (logging at info, per-user upload ` +
        `limit raised because one token sends every upload) and a bare \`node:http\` server doing the same operations ` +
        `straight with the AWS SDK: GetItem plus the two presigned links (with \`getSignedUrl\`, the SDK's ` +
        `documented way; for reads a third side signs them as the store does); the tag Query of 21 items and its 20 ` +
        `thumbnail links; PutObject plus ` +
        `the TransactWriteItems of the image and tag items, without decoding, re-encoding or a thumbnail. ` +
        `After every run the bench waits until the server has finished the requests the run left in flight ` +
        `(autocannon closes its sockets at the window's end; the server does not stop work on them), so that ` +
        `none runs into the next run's window. ` +
        `Cells read "app / direct"; latency in ms; errors are socket errors, timeouts (30 s), non-2xx answers and ` +
        `requests the server had not finished a minute after the window; the errors check is met only when each ` +
        `side answered at least one request and none failed.`,
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
      ...(uploads && crowded ? [uploadsNote(uploads, crowded), ""] : []),
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
