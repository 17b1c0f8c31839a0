/**
 * Hosts only the embedded emulators (packages/local) in a process of their own, so the process
 * that measures a client never shares its event loop with them, as DynamoDB and S3 are other
 * machines in AWS. Prints the environment that points at them as one JSON line, and stops
 * when its standard input closes.
 */
import { startLocalAws } from "@images/local";

const name = process.argv[2] ?? "bench";
const aws = await startLocalAws({ tableName: name, bucketName: name });
process.stdout.write(`${JSON.stringify(aws.env)}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void aws.stop().finally(() => process.exit(0));
});
