import { describe, expect, it } from "vitest";
import { createDecodeSlots } from "../../src/image/decode-slots.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("decode slots", () => {
  it("run at most `limit` decodes at once, the rest in order, and tell the overflow to come back", async () => {
    const withSlot = createDecodeSlots(2, 3);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const job = (n: number) =>
      withSlot(async () => {
        running += 1;
        most = Math.max(most, running);
        order.push(n);
        await new Promise<void>((resolve) => gates.push(resolve));
        running -= 1;
        return n;
      });
    const jobs = [1, 2, 3, 4, 5].map(job);
    await tick();
    expect(order).toEqual([1, 2]);
    // Two running, three waiting: a sixth is refused at once, as unavailable with a Retry-After.
    await expect(job(6)).rejects.toMatchObject({ kind: "unavailable", details: { retryAfterSeconds: 1 } });
    while (gates.length > 0 || order.length < 5) {
      gates.shift()?.();
      await tick();
    }
    expect(await Promise.all(jobs)).toEqual([1, 2, 3, 4, 5]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });

  it("free their slot when a decode fails", async () => {
    const withSlot = createDecodeSlots(1, 0);
    await expect(withSlot(() => Promise.reject(new Error("bad pixels")))).rejects.toThrow("bad pixels");
    expect(await withSlot(async () => "next")).toBe("next");
  });
});
