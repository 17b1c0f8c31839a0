import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { checkImage, encodeWithLadder, ladderSides } from "../../src/image/processing.ts";

const picture = () => sharp({ create: { width: 900, height: 600, channels: 3, background: "#468" } });

describe("the size ladder", () => {
  it("has the rungs an image reaches, or its own size when it reaches none", () => {
    expect(ladderSides(4000, 3000)).toEqual([320, 640, 1080, 2048]);
    expect(ladderSides(2048, 100)).toEqual([320, 640, 1080, 2048]);
    expect(ladderSides(1079, 1500)).toEqual([320, 640, 1080]);
    expect(ladderSides(319, 200)).toEqual([319]);
  });

  it("runs beside the re-encode only when asked, and only for a picture decoded in strips (a baseline JPEG)", async () => {
    const kinds = {
      baseline: await picture().jpeg().toBuffer(),
      progressive: await picture().jpeg({ progressive: true }).toBuffer(),
      png: await picture().png().toBuffer(),
    };
    const overlapped: Record<string, boolean> = {};
    const cases = [
      ...Object.entries(kinds).map(([kind, bytes]) => [kind, bytes, true] as const),
      ["baseline, one after the other", kinds.baseline, false] as const,
    ];
    for (const [kind, bytes, sideBySide] of cases) {
      const image = await checkImage(bytes, { maxPixels: 50_000_000 });
      let encoding = false;
      let ladderStartedWhileEncoding = false;
      const ladder = image.ladder.bind(image);
      image.ladder = () => {
        ladderStartedWhileEncoding = encoding;
        return ladder();
      };
      const [, made] = await encodeWithLadder(
        image,
        async () => {
          encoding = true;
          await new Promise((resolve) => setTimeout(resolve, 20));
          encoding = false;
        },
        { sideBySide },
      );
      overlapped[kind] = ladderStartedWhileEncoding;
      expect(made.renditions.map((r) => [r.width, r.height])).toEqual([
        [320, 213],
        [640, 427],
      ]);
    }
    expect(overlapped).toEqual({
      baseline: true,
      progressive: false,
      png: false,
      "baseline, one after the other": false,
    });
  });
});
