/**
 * Hosts only the embedded emulators (packages/local) in a process of their own, so the process
 * that measures a client never shares its event loop with them, as DynamoDB and S3 are other
 * machines in AWS. Prints the environment that points at them as one JSON line, and stops
 * when its standard input closes.
 */
import { startLocalAws } from "@images/local";

const name = process.argv[2] ?? "bench";
// No TTL sweeper: nothing the bench stores expires, and the sweeper Scans the whole table in this
// same process every 30 s, where DynamoDB's TTL works beside the table's capacity. Paged, it no
// longer stalls a request for long (bench/ttl-sweep.ts), but at 100,000 images (300,000 items) a
// sweep is still seconds of this process's CPU taken from the pages being timed. Unpaged, it took
// every filter's p90 at that size to 70-300 ms and doubled one median (bench run of 2026-12-01).
const aws = await startLocalAws({ tableName: name, bucketName: name, ttlSweepIntervalMs: 0 });
process.stdout.write(`${JSON.stringify(aws.env)}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void aws.stop().finally(() => process.exit(0));
});
