import { PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalAws } from "../src/index.ts";
import { dynamoClients, s3Client, uniqueId } from "./clients.ts";

const dirsToRemove: string[] = [];
afterEach(async () => {
  await Promise.all(dirsToRemove.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The scratch directories startLocalAws may use, with their entries. */
async function scratchDirs(): Promise<string[]> {
  const roots = [...new Set(["/dev/shm", os.tmpdir()])].filter((root) => existsSync(root));
  const found = await Promise.all(
    roots.map(async (root) =>
      (await readdir(root)).filter((name) => name.startsWith("images-local-aws-")).map((name) => path.join(root, name)),
    ),
  );
  return found.flat();
}

describe("startLocalAws lifecycle", () => {
  it("keeps table items and objects across stop and start when dataDir is given", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "local-aws-test-"));
    dirsToRemove.push(dataDir);
    const pk = uniqueId();

    const first = await startLocalAws({ dataDir });
    const { doc } = dynamoClients(first);
    const s3 = s3Client(first);
    await doc.send(new PutCommand({ TableName: first.tableName, Item: { pk, sk: "kept", v: 42 } }));
    await s3.send(new PutObjectCommand({ Bucket: first.bucketName, Key: `${pk}.txt`, Body: "kept object" }));
    doc.destroy();
    s3.destroy();
    await first.stop();
    expect(existsSync(path.join(dataDir, "dynamodb"))).toBe(true);
    expect(existsSync(path.join(dataDir, "s3"))).toBe(true);

    const second = await startLocalAws({ dataDir });
    try {
      const { doc: doc2 } = dynamoClients(second);
      const s3again = s3Client(second);
      const { Item } = await doc2.send(new GetCommand({ TableName: second.tableName, Key: { pk, sk: "kept" } }));
      expect(Item).toEqual({ pk, sk: "kept", v: 42 });
      const object = await s3again.send(new GetObjectCommand({ Bucket: second.bucketName, Key: `${pk}.txt` }));
      expect(await object.Body?.transformToString()).toBe("kept object");
      doc2.destroy();
      s3again.destroy();
    } finally {
      await second.stop();
    }
  });

  it("keeps nothing without dataDir and removes its temporary directory on stop", async () => {
    // A bucket name of our own identifies this instance's directory among parallel test files'.
    const bucketName = `mem-${uniqueId()}`;
    const before = new Set(await scratchDirs());
    const local = await startLocalAws({ bucketName });
    const mine = (await scratchDirs()).filter(
      (dir) => !before.has(dir) && existsSync(path.join(dir, "s3", bucketName)),
    );
    expect(mine).toHaveLength(1);
    const [tempDir] = mine as [string];
    expect(await readdir(tempDir)).toEqual(["s3"]); // dynalite stays in memory

    await local.stop();
    await local.stop(); // idempotent
    expect(existsSync(tempDir)).toBe(false);

    const again = await startLocalAws({ bucketName });
    const { doc } = dynamoClients(again);
    try {
      const { Items } = await doc.send(new ScanCommand({ TableName: again.tableName }));
      expect(Items).toEqual([]);
    } finally {
      doc.destroy();
      await again.stop();
    }
  });

  it("closes every port on stop", async () => {
    const local = await startLocalAws();
    await local.stop();
    await expect(fetch(local.dynamoEndpoint)).rejects.toThrow();
    await expect(fetch(local.s3Endpoint)).rejects.toThrow();
  });
});
