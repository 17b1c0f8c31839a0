import { describe, expect, it } from "vitest";
import { ReadWriteLock } from "../src/read-write-lock.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("ReadWriteLock", () => {
  it("lets shared holders in together and makes the exclusive one wait for them", async () => {
    const lock = new ReadWriteLock();
    const events: string[] = [];
    const releaseA = await lock.acquireShared();
    const releaseB = await lock.acquireShared();
    const exclusive = lock.acquireExclusive().then((release) => {
      events.push("exclusive");
      return release;
    });
    await tick();
    expect(events).toEqual([]);
    releaseA();
    await tick();
    expect(events).toEqual([]);
    releaseB();
    (await exclusive)();
    expect(events).toEqual(["exclusive"]);
  });

  it("holds shared requests queued behind a waiting exclusive one until it is released", async () => {
    const lock = new ReadWriteLock();
    const events: string[] = [];
    const releaseFirst = await lock.acquireShared();
    const exclusive = lock.acquireExclusive().then((release) => {
      events.push("exclusive");
      return release;
    });
    const laterShared = lock.acquireShared().then((release) => {
      events.push("shared");
      return release;
    });
    await tick();
    expect(events).toEqual([]);
    releaseFirst();
    const releaseExclusive = await exclusive;
    await tick();
    expect(events).toEqual(["exclusive"]);
    releaseExclusive();
    (await laterShared)();
    expect(events).toEqual(["exclusive", "shared"]);
  });

  it("ignores a second release of the same hold", async () => {
    const lock = new ReadWriteLock();
    let granted = false;
    const releaseA = await lock.acquireShared();
    const releaseB = await lock.acquireShared();
    releaseA();
    releaseA(); // must not count as B's release
    const exclusive = lock.acquireExclusive().then((release) => {
      granted = true;
      return release;
    });
    await tick();
    expect(granted).toBe(false);
    releaseB();
    (await exclusive)();
    expect(granted).toBe(true);
  });
});
