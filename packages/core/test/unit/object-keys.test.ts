import { createHash } from "node:crypto";
import { monotonicFactory } from "ulid";
import { describe, expect, it } from "vitest";
import {
  flatObjectKeys,
  keyHash,
  objectKeys,
  PENDING_UPLOAD_PREFIX,
  pendingUploadImageId,
} from "../../src/storage/object-store.ts";

const ID = "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4";
const HH = createHash("sha256").update(ID).digest("hex").slice(0, 2);

/** Image ids as one busy millisecond makes them: all alike but their last characters (seeded). */
const idsOfOneMoment = (n: number) => {
  let state = 7;
  const next = monotonicFactory(() => ((state = (state * 48271) % 2147483647) - 1) / 2147483646);
  const time = Date.UTC(2026, 11, 2, 1, 0, 0);
  return Array.from({ length: n }, () => `img_${next(time)}`);
};

describe("the bucket's key layout", () => {
  it("puts the first two hex digits of the id's sha256 after each folder that new objects go to", () => {
    expect(keyHash(ID)).toBe(HH);
    expect(objectKeys.original(ID, "jpg")).toBe(`images/${HH}/${ID}.jpg`);
    expect(objectKeys.original(ID, "png", "0123456789")).toBe(`images/${HH}/${ID}.0123456789.png`);
    expect(objectKeys.rendition(ID, 320)).toBe(`renditions/${HH}/${ID}/320.webp`);
    expect(objectKeys.rendition(ID, 2048, "abc")).toBe(`renditions/${HH}/${ID}.abc/2048.webp`);
    expect(objectKeys.pendingUpload(ID)).toBe(`${PENDING_UPLOAD_PREFIX}${HH}/${ID}`);
  });

  it("keeps the flat layout for what older items name", () => {
    expect(flatObjectKeys.original(ID, "jpg", "v")).toBe(`images/${ID}.v.jpg`);
    expect(flatObjectKeys.rendition(ID, 640)).toBe(`renditions/${ID}/640.webp`);
    expect(flatObjectKeys.pendingUpload(ID)).toBe(`uploads/${ID}`);
    // Only images stored before the ladder have one; nothing writes it now.
    expect(objectKeys.thumbnail(ID)).toBe(`thumbnails/${ID}.webp`);
  });

  it("spreads the ids of one moment over all 256 hash levels, none far above its share", () => {
    const ids = idsOfOneMoment(25_600);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(keyHash(id), (counts.get(keyHash(id)) ?? 0) + 1);
    expect(counts.size).toBe(256);
    // 100 a level on average; a fair hash keeps the busiest within half of that.
    expect(Math.max(...counts.values())).toBeLessThan(150);
    // While the flat layout put all of them on one key range: the same 20 leading characters.
    expect(new Set(ids.map((id) => flatObjectKeys.original(id, "jpg").slice(0, 20))).size).toBe(1);
  });

  it("reads the image id from a pending upload's key in either layout, and from nothing else", () => {
    expect(pendingUploadImageId(objectKeys.pendingUpload(ID))).toBe(ID);
    expect(pendingUploadImageId(flatObjectKeys.pendingUpload(ID))).toBe(ID);
    const wrong = HH === "00" ? "01" : "00";
    for (const key of [
      `uploads/${wrong}/${ID}`,
      `uploads/zz/${ID}`,
      `uploads/${HH}/${HH}/${ID}`,
      `uploads/${HH}/${ID}.jpg`,
      `uploads/${HH}/img_not-an-id`,
      `images/${HH}/${ID}`,
      `uploads/../images/${ID}`,
      `uploads/${ID}/`,
      "uploads/",
      "",
    ]) {
      expect(pendingUploadImageId(key), key).toBeUndefined();
    }
  });
});
