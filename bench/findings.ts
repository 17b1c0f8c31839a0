/**
 * The "why, and what would close it" part of bench/RESULTS.md, written from this run's numbers:
 * for each target, what stands in the way (from the diagnostics each section measured) and the
 * change in the product that would close or narrow the gap.
 */
import type { CombinationResult, SizeResult } from "./listing.ts";
import type { ShardReads } from "./shard-reads.ts";
import { count, kib, mib, ms, ratio, type SectionResult } from "./support.ts";

interface ColdData {
  stats: { built: { variant: { key: string }; bytes: number; totalBytes: number }; importMs: number }[];
  appPackages: Record<string, number>;
  appProfile: Record<string, number>;
  floorProfile: Record<string, number>;
  onNode22?: { label: string; app: number; floor: number }[];
}
interface Measured {
  rps: number;
  p50: number;
  requests: number;
  errors: number;
}
interface LoadData {
  [scenario: string]: unknown;
  diagnosis: {
    rows: Record<string, Record<string, number>>;
    presigning: { getSignedUrl: number; "the store's signer": number };
  };
}
interface MemoryData {
  rows: { name: string; file: number; above: number }[];
  productOptimises: boolean;
  stored: { optimised: number; plain: number };
  largePixels: number;
}

const of = <T>(sections: SectionResult[], title: string) =>
  sections.find((s) => s.title === title)?.data as T | undefined;
const missed = (sections: SectionResult[], title: string) =>
  sections.find((s) => s.title === title)?.checks.some((check) => !check.met) ?? false;

function coldStart(sections: SectionResult[]): string[] {
  const data = of<ColdData>(sections, "1. Cold start");
  if (!data) return [];
  const by = (key: string) => data.stats.find((s) => s.built.variant.key === key)!;
  const [app, floor, unplugged, split, lean] = ["app", "floor", "unplugged", "split", "lean"].map(by) as [
    ReturnType<typeof by>,
    ReturnType<typeof by>,
    ReturnType<typeof by>,
    ReturnType<typeof by>,
    ReturnType<typeof by>,
  ];
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
  const profile = (name: string, which: Record<string, number>) => which[name] ?? 0;
  const compile = (which: Record<string, number>) =>
    Object.entries(which)
      .filter(([name]) => name.startsWith("V8 compiling"))
      .reduce((sum, [, value]) => sum + value, 0);
  const libraries = [
    "zod",
    "jsonschema",
    "electrodb",
    "hono",
    "@hono/zod-openapi",
    "@asteasolutions/zod-to-openapi",
    "pino",
    "jose",
  ]
    .map((name) => profile(name, data.appProfile))
    .reduce((a, b) => a + b, 0);
  const appTotal = Object.values(data.appProfile).reduce((a, b) => a + b, 0);
  // The profiler slows the run; its shares, applied to the unprofiled import, give milliseconds.
  const librariesMs = (libraries / appTotal) * app.importMs;
  const sizeMet = app.built.totalBytes <= 1.2e6;
  const lines = [
    `**Bundle size: ${mb(app.built.totalBytes)}, target 1.2 MB${sizeMet ? " (met)" : ""}.** The floor is ` +
      `${mb(floor.built.bytes)}. Two changes took it from 1.53 MB: (1) \`infra/bundle/plugins.mjs\`, given to both ` +
      `functions as SST's \`nodejs.plugins\`, resolves zod's \`locales\` namespace (every language's messages, kept ` +
      `only because \`@hono/zod-openapi\` hands the whole \`z\` object to a function) to an empty module; English ` +
      `is loaded by zod on its own (${kib(unplugged.built.totalBytes - app.built.totalBytes)} less, the ` +
      `"for comparison" row); (2) the image's type is read by libvips itself, from the magic bytes, in the same ` +
      `header read that gives the size (\`packages/core/src/image/processing.ts\`), with every libvips loader but ` +
      `the five accepted formats' blocked, so \`file-type\` and its tokenizer stack left the bundle (77 KiB) and ` +
      `libvips never parses TIFF, SVG or PDF at all. What is left above the floor is mostly zod ` +
      `(${kib(data.appPackages.zod ?? 0)}), ElectroDB (${kib(data.appPackages.electrodb ?? 0)}) and the DynamoDB ` +
      `client's schemas that ElectroDB's CommonJS \`require\` keeps whole. Replacing pino would save ` +
      `${kib(app.built.totalBytes - lean.built.totalBytes)} more (what-if row); it stays, as the logging library.`,
    "",
    `**Init: ${ms(app.importMs)} ms against the floor's ${ms(floor.importMs)} ms, ${ratio(app.importMs / floor.importMs)}; ` +
      `target 1.5×${app.importMs / floor.importMs <= 1.5 ? " (met)" : ""}.** Where the extra time goes (profile ` +
      `table of section 1): V8 compiling the bundle, at import and each module body on its first call, ` +
      `${ms(compile(data.appProfile) - compile(data.floorProfile))} ms more than the floor (profiled); evaluating ` +
      `zod, jsonschema, ElectroDB, Hono, zod-to-openapi, pino and jose ${ms(libraries)} ms: zod builds every schema ` +
      `at module load, and ElectroDB checks each of the seven entity models with \`jsonschema\` in \`new Entity\` ` +
      `and again when the Service joins them (it uses the same check to tell a model from an entity, so it cannot ` +
      `be stubbed out of the bundle: tried, the Service then takes its entities for models). Bytes matter little: ` +
      `the plugin's 256 KiB save ${ms(unplugged.importMs - app.importMs)} ms, and code splitting, which leaves the ` +
      `chunks loaded on first use (OpenAPI document, image processing, large uploads) unparsed at load ` +
      `(${kib(split.built.bytes)} at load), ${app.importMs - split.importMs > 1 ? `saves ${ms(app.importMs - split.importMs)} ms` : `saves nothing measurable (${ms(split.importMs - app.importMs)} ms more in this run)`}. A 1.5× target leaves the ` +
      `whole application ${ms(floor.importMs / 2)} ms on top of the SDK clients; evaluating those libraries alone is ` +
      `${((100 * libraries) / appTotal).toFixed(0)}% of the profiled import, about ${ms(librariesMs)} ms of the ` +
      `unprofiled one, before compiling a byte of them. So the target cannot be met while the function carries this ` +
      `stack (Hono with zod-openapi, zod, ElectroDB). ` +
      (data.onNode22 && data.onNode22.length === 2
        ? `On Node 22, which the function runs on, it is ${ratio(data.onNode22[0]!.app / data.onNode22[0]!.floor)} ` +
          `(${ms(data.onNode22[0]!.app)} against ${ms(data.onNode22[0]!.floor)} ms); Node 22's module compile ` +
          `cache, filled beforehand, takes the function to ${ms(data.onNode22[1]!.app)} ms, but the floor to ` +
          `${ms(data.onNode22[1]!.floor)} ms with it (${ratio(data.onNode22[1]!.app / data.onNode22[1]!.floor)}), ` +
          `and the cache is keyed to the exact Node build, which Lambda updates on its own schedule: not a way ` +
          `to the target either.`
        : `Node 22's module compile cache was not measured in this run (BENCH_NODE22).`),
  ];
  return lines;
}

function listing(sections: SectionResult[], with100k: boolean): string[] {
  const efficiency = of<SizeResult>(sections, "2. Read efficiency");
  const sizes = of<SizeResult[]>(sections, "3. Growth");
  if (!efficiency || !sizes) return [];
  const worst = efficiency.combinations
    .map((c) => ({ c, r: Math.max(c.page1.read / c.page1.returned, c.walk.worstPage) }))
    .sort((a, b) => b.r - a.r)[0]!;
  const scanned = efficiency.combinations.find((c) => c.scan)?.scan?.read ?? 0;
  const first = efficiency.combinations
    .filter((c): c is CombinationResult & { scanFirstMatches: { read: number; returned: number } } =>
      Boolean(c.scanFirstMatches),
    )
    .map((c) => c.scanFirstMatches.read / Math.max(1, c.scanFirstMatches.returned));
  const smallest = sizes[0]!;
  const largest = sizes.at(-1)!;
  const growth = smallest.combinations.map((c) => ({
    name: c.name,
    ratio: largest.combinations.find((l) => l.name === c.name)!.pageMs.median / c.pageMs.median,
  }));
  const worstGrowth = growth.sort((a, b) => b.ratio - a.ratio)[0]!;
  const seed10k = sizes.find((s) => s.images === 10_000);
  const lines = [
    `**Read efficiency${missed(sections, "2. Read efficiency") ? "" : ": met"}.** The owner's listings read their page ` +
      `and one look-ahead item in one Query; the all-images and tag listings, spread over ${efficiency.shards} write ` +
      `shards, read in at most two rounds: each shard is asked for its share of the page and a look-ahead ` +
      `(${efficiency.shards} × ${Math.ceil(21 / efficiency.shards)} = ${efficiency.shards * Math.ceil(21 / efficiency.shards)} ` +
      `items for 20, ${((efficiency.shards * Math.ceil(21 / efficiency.shards)) / 20).toFixed(2)} per item returned before ` +
      `anything else), then the shards whose last item is still above the 21st newest for the items above it alone, ` +
      `with a key condition and no more than the places left (their page 1: ${efficiency.combinations
        .filter((c) => !c.name.includes("user"))
        .map((c) => `${c.name} ${c.page1.requests} Queries`)
        .join(
          ", ",
        )}; worst of all: ${worst.c.name}, ${worst.r.toFixed(3)} items read per item returned). The Scan baseline reads the whole ` +
      `table, ${count(scanned)} items, for every page; even stopped at its first 20 matches, which is not the newest ` +
      `20, it reads ${Math.min(...first).toFixed(0)} to ${Math.max(...first).toFixed(0)} items per item returned.`,
    "",
    `**Growth${missed(sections, "3. Growth") ? "" : ": met"}.** From ${count(smallest.images)} to ${count(largest.images)} ` +
      `images the slowest-growing page is ${worstGrowth.name} at ${ratio(worstGrowth.ratio)}: a Query reads a key range ` +
      `(dynalite, like DynamoDB, keeps each index sorted in LevelDB), so its cost follows the page, not the table; ` +
      `the Scan's follows the table.` +
      (with100k
        ? ""
        : ` This run stopped at ${count(largest.images)} images (\`BENCH_SKIP_100K=1\` or \`BENCH_QUICK=1\`); ` +
          `the growth target is judged on the largest size run.`),
  ];
  return lines;
}

function load(sections: SectionResult[]): string[] {
  const data = of<LoadData>(sections, "4. Load");
  if (!data) return [];
  const rows = data.diagnosis.rows;
  const get = rows["GET /images/{id}"] ?? {};
  const list = rows["GET /images?tag=…"] ?? {};
  const bare = rows["GET /images?tag=…, without the 20 thumbnail links"] ?? {};
  const upload = rows["POST /images/upload"] ?? {};
  const getLoad = Object.entries(data).find(([name]) => name.startsWith("GET /images/{id}"))?.[1] as
    { app: Measured; direct: Measured; directStoreSigning?: Measured } | undefined;
  const presigning = data.diagnosis.presigning;
  const storeSigner = presigning["the store's signer"];
  const lines = [
    `**Load.** ${missed(sections, "4. Load") ? "" : "All met. "}Reads run under 50 connections, uploads under one a core ` +
      `(each upload is some 125 ms of CPU; more connections only queue them). Under 50 connections the one server ` +
      `process is saturated (it also runs the emulators), so a p50 there is mostly queueing: its ratio is the ratio ` +
      `of work per request. ` +
      (getLoad
        ? `For GET /images/{id} that is ${ratio(getLoad.app.p50 / getLoad.direct.p50)} at p50 against the direct ` +
          `path signing with \`getSignedUrl\` (${getLoad.app.rps.toFixed(0)} against ${getLoad.direct.rps.toFixed(0)} ` +
          `requests a second)` +
          (getLoad.directStoreSigning
            ? ` and ${ratio(getLoad.app.p50 / getLoad.directStoreSigning.p50)} against a direct path that signs its ` +
              `links the store's way (${getLoad.directStoreSigning.rps.toFixed(0)} requests a second). The target ` +
              `is counted against the first: the SDK's documented way of presigning is what a direct implementation ` +
              `does, and signing cheaply is part of what the store does better. Against the second, which keeps ` +
              `only the app's own layers in the ratio, GET ` +
              `${getLoad.app.p50 / getLoad.directStoreSigning.p50 <= 1.3 ? "is within" : "is not within"} 1.3×: ` +
              `a CPU profile of the server under load (\`BENCH_PROFILE_LOAD=<dir>\`) spreads the difference over many ` +
              `small places, no single function of the app's above a few per cent: the garbage collector, ` +
              `ElectroDB building its request and parsing the item, Hono's routing and JSON, and ` +
              `@hono/node-server's adaptation (which the Lambda does not run). `
            : ". ")
        : "") +
      `One at a time, the store is ${ms((get.store ?? 0) - (get.direct ?? 0), 2)} ms from the direct SDK path ` +
      `(${ms((get.store ?? 0) - (get["direct, links signed the store's way"] ?? 0), 2)} ms from the direct path ` +
      `signing the store's way) and the app adds ${ms((get.app ?? 0) - (get.store ?? 0), 2)} ms on top of the ` +
      `store; the app layer on a store that answers at once takes ` +
      `${ms(get["app layer alone (a store that answers at once)"] ?? Number.NaN, 2)} ms, of which the token check ` +
      `(verified tokens are remembered until they expire) is ` +
      `${ms((get.app ?? 0) - (get["app, token check skipped"] ?? 0), 2)} ms. What remains is Hono's routing and ` +
      `request validation, the log line and JSON; the dev server also pays @hono/node-server's Request/Response ` +
      `adaptation, which the Lambda does not.`,
    "",
    `**Listing cost is links.** A tag page takes ${ms(list.direct ?? 0, 2)} ms straight with the SDK with its 20 ` +
      `presigned thumbnail links and ${ms(bare.direct ?? 0, 2)} ms without them: ${ms(presigning.getSignedUrl, 3)} ms ` +
      `a link with \`getSignedUrl\`, which runs the client's whole middleware stack for each. The store resolves the ` +
      `bucket's endpoint once and signs each link with one \`S3RequestPresigner.presign\` ` +
      `(packages/core/src/storage/link-signer.ts; its test proves the URLs equal getSignedUrl's byte for byte): ` +
      `${ms(storeSigner, 3)} ms a link, ${ms((presigning.getSignedUrl - storeSigner) * 20, 1)} ms less per page; ` +
      `through the store the page takes ${ms(list.store ?? 0, 2)} ms.`,
    "",
    `**Uploads** (no latency target): the store takes ${ms(upload.store ?? 0, 1)} ms against ${ms(upload.direct ?? 0, 1)} ` +
      `ms for the bare PutObject and transaction, and ${ms(upload["processImage alone"] ?? 0, 1)} ms of it is ` +
      `\`processImage\`: sniffing, decoding, re-encoding and the thumbnail, the work the service exists to do.`,
  ];
  return lines;
}

function memory(sections: SectionResult[]): string[] {
  const data = of<MemoryData>(sections, "5. Memory");
  if (!data) return [];
  const [direct, refused, directFlipped, finish, fetched, finishFlipped, streamed, fromDisk, before] = data.rows;
  if (
    !direct ||
    !refused ||
    !directFlipped ||
    !finish ||
    !fetched ||
    !finishFlipped ||
    !streamed ||
    !fromDisk ||
    !before
  )
    return [];
  const x = (row: { above: number; file: number }) => ratio(row.above / row.file);
  const coefficients = (pixels: number) => mib(pixels * 6);
  const larger = `${(((data.stored.plain - data.stored.optimised) / data.stored.optimised) * 100).toFixed(1)}%`;
  const encoder = data.productOptimises
    ? `Both are dominated by sharp's JPEG encoder: with Huffman optimisation (sharp's default ` +
      `\`optimiseCoding: true\`) libjpeg keeps the DCT coefficients of the whole picture to build its tables in a ` +
      `second pass, 2 bytes a sample, 6 bytes a pixel at 4:4:4: ${coefficients(3840 * 2160)} for the 8.3 MP file, ` +
      `${coefficients(data.largePixels)} for the 49.7 MP one. Change: packages/core/src/image/processing.ts, ` +
      `\`ACCEPTED_TYPES["image/jpeg"].encode\` → \`image.jpeg({ quality: 90, optimiseCoding: false })\`; the ` +
      `what-if rows measure it: direct ${x(direct)} → ${x(directFlipped)}, finishing ${x(finish)} → ` +
      `${x(finishFlipped)}, for stored files ${larger} larger.`
    : `processing.ts already encodes JPEG without Huffman optimisation (\`optimiseCoding: false\`, files ${larger} ` +
      `larger). With sharp's default the encoder keeps the DCT coefficients of the whole picture for a second pass, ` +
      `6 bytes a pixel at 4:4:4 (${coefficients(3840 * 2160)} and ${coefficients(data.largePixels)} here): the ` +
      `comparison rows put the two operations at ${x(directFlipped)} and ${x(finishFlipped)} that way.`;
  return [
    `**Memory: direct upload ${x(direct)}, finishing ${x(finish)}; target under 3×.** ${encoder}`,
    "",
    `**Direct upload: the transport.** The same request with bytes refused at the sniff, before any decoding, ` +
      `already takes ${mib(refused.above)} (${x(refused)} the file): API Gateway hands the body over base64 inside ` +
      `a JSON event (the event text and the parsed body string are each 1.33× the file before anything decodes ` +
      `them), then come the decoded bytes, the Request and FormData copies and the File's bytes; decoding and ` +
      `re-encoding add ${mib(Math.max(0, direct.above - refused.above))}. Under 3× is out of reach for direct ` +
      `uploads through API Gateway whatever the service does; what counts there is the absolute figure ` +
      `(${mib(direct.above)} for a 4 MiB file, far inside the function's 1,536 MB). A multipart parser run ` +
      `straight on the decoded body (no Request/FormData round trip) would save a copy or two, not the factor.`,
    "",
    `**Finishing: ${x(finish)}, ${finish.above / finish.file < 3 ? "under" : "over"} 3×.** The step works through ` +
      `files in the OS temp folder, one step after the other, so that no two steps' memory adds up ` +
      `(packages/core/src/image/large-uploads.ts, \`storeNormalised\`): the object is streamed into a file ` +
      `(alone ${mib(fetched.above)}, ${x(fetched)}: the SDK's 64 KiB body chunks, garbage until V8 collects them); ` +
      `libvips reads the type and the dimensions from that file's header; it re-encodes the file into another ` +
      `file, mapping the input and decoding it in strips, so no byte of the picture reaches JavaScript (the mapped ` +
      `input counts in RSS as it is read, about 1× the file, as clean file pages the kernel may drop); the ` +
      `thumbnail is made from the file after that (shrunk on load), and only then is the re-encoded file hashed ` +
      `and streamed to S3 in 5 MiB parts. libvips' operation cache is off (packages/core/src/image/processing.ts): ` +
      `it kept the re-encode's load, and so its mapping, open while the thumbnail mapped the file again. The same ` +
      `steps on the file already on local disk peak at ${mib(fromDisk.above)} (${x(fromDisk)}); the download adds ` +
      `${mib(Math.max(0, finish.above - fromDisk.above))}, its chunks not yet collected. The design before (the object's bytes in memory, re-encoded into the ` +
      `multipart upload beside the thumbnail, the cache on) peaks at ${mib(before.above)} (${x(before)}) in this ` +
      `run; streaming the object into sharp (${x(streamed)}) does no better, since sharp buffers a stream input ` +
      `whole. The files need about twice the upload in /tmp: infra/api.ts gives the finishing function 1,024 MB ` +
      `of it for the 50 MiB default of \`MAX_LARGE_UPLOAD_BYTES\`, to be raised with it. ` +
      `The finishing function has 2,048 MB; its peak here is ${mib(finish.above)} above idle.`,
  ];
}

interface CapacityDesign {
  shards: number;
  today?: boolean;
  hydratedPerReturned?: number;
  readUnitsPerPage?: number;
  listingEntryBytes?: { image: number; tag: number };
  itemBytes: { image: number; tag: number; imageWcu: number; tagWcu: number };
  writes: { index: string; perUpload: number }[];
  uploadCeiling: number;
  oneTagCeiling: number;
  firstPageReadPerReturned: number;
  s3UploadCeiling: number;
}

function capacity(sections: SectionResult[]): string[] {
  const designs = of<CapacityDesign[]>(sections, "7. Capacity");
  if (!designs) return [];
  const [unsharded, allAtDefault, ...today] = designs;
  const chosen = today[0]!;
  const at32 = today.find((d) => d.shards === 32) ?? chosen;
  const month = (d: CapacityDesign) => d.writes.find((w) => w.index === "gsi1")!.perUpload * d.shards;
  const reads = of<ShardReads[]>(sections, "8. Shard reads");
  // The fewest shards that take 4,000 uploads a second at today's units an upload.
  const needed = Math.ceil((4_000 * month(chosen)) / 1000);
  return [
    `**Capacity${missed(sections, "7. Capacity") ? "" : ": met"}.** Before write sharding every upload wrote one ` +
      `partition of the month (${count(Math.floor(unsharded!.uploadCeiling))} uploads a second at most, not 1,000: an ` +
      `image item is ${count(allAtDefault!.itemBytes.image)} bytes, ${allAtDefault!.itemBytes.imageWcu} write units in ` +
      `each index that holds all of it, and edits and deletes write it again: ${month(allAtDefault!).toFixed(2)} units ` +
      `an upload). With S shards the month and each tag take S times that. gsi1 now holds an entry's keys and the ` +
      `attributes a page is merged by (${count(chosen.listingEntryBytes!.image)} bytes: one unit whatever the ` +
      `description), none of which an edit changes, so an edit writes nothing there: ${month(chosen).toFixed(2)} units an ` +
      `upload, ${count(Math.floor(chosen.uploadCeiling))} uploads a second at S = ${chosen.shards} (every index ALL: ` +
      `${count(Math.floor(allAtDefault!.uploadCeiling))}), ${count(Math.floor(at32.uploadCeiling))} at S = 32, ` +
      `${count(Math.floor(chosen.oneTagCeiling))} into one tag. The price: an all-images or tag page reads the items it ` +
      `returns from the table after its Queries (one BatchGetItem, a third round trip; exactly one item per item ` +
      `returned), ${chosen.readUnitsPerPage!.toFixed(1)} read units a page of the mix in all against ` +
      `${allAtDefault!.readUnitsPerPage!.toFixed(1)} (BatchGetItem rounds each item up to 4 KB), while the hottest ` +
      `partition's reads fall. An exact page over hash shards reads more than 1 + S/20 index entries per item returned ` +
      `(${(1 + chosen.shards / 20).toFixed(2)} with ${chosen.shards}): no page can know beforehand how many of its ` +
      `items each shard holds, and 1 + S/20 is what it reads if it did (its items and one look-ahead a shard), so ` +
      `every exact merge reads more on average (section 8: ${(reads ?? [])
        .filter((r) => [2, 3, 5, chosen.shards].includes(r.shards))
        .map((r) => `${r.readPerReturned.toFixed(2)} with ${r.shards}`)
        .join(", ")}; modelled here ${chosen.firstPageReadPerReturned.toFixed(2)} with ${chosen.shards}, the page's ` +
      `items read from the table counted too). 4,000 uploads a second at about ${month(chosen).toFixed(2)} units an ` +
      `upload need S ≥ ${needed}, where even that bound is ${(1 + needed / 20).toFixed(2)}: with exact ` +
      `pages, 1.25 and 4,000 uploads a second exclude each other. S3 takes ${count(Math.floor(chosen.s3UploadCeiling))} ` +
      `uploads a second before its busiest prefix passes 3,500 writes.`,
  ];
}

export function findings(sections: SectionResult[], options: { with100k: boolean }): string {
  return [
    "## Why, and what would close each gap",
    "",
    ...coldStart(sections),
    "",
    ...listing(sections, options.with100k),
    "",
    ...load(sections),
    "",
    ...memory(sections),
    "",
    ...capacity(sections),
  ].join("\n");
}
