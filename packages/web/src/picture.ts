import { thumbHashToDataURL } from "thumbhash";
import type { ListedImage } from "./api.ts";
import { h } from "./dom.ts";

export type Rendition = ListedImage["renditions"][number];

/**
 * `sizes` for a grid tile's picture. `auto` lets Chromium (and any browser that knows it, lazy
 * images only) take the width the tile is laid out at; the rest is the fallback, from style.css:
 * the columns are `minmax(180px, 1fr)` (140px up to 760px wide), so a column never reaches two
 * minimum columns and a gap (372px, 292px) and the picture is that less the tile's padding and
 * border (0.35rem and 1px a side).
 */
export const GRID_SIZES = "auto, (max-width: 760px) 279px, 359px";

/**
 * `sizes` for the open view's picture, from style.css: the dialog is
 * `min(1100px, 100vw - 1.5rem)` wide with a 1px border and a 1rem padding; up to 760px the picture
 * takes the whole row, wider it takes 3 of the 5 parts left after a 1rem gap.
 */
export const VIEW_SIZES = "(max-width: 760px) calc(100vw - 58px), (min-width: 1124px) 630px, calc(60vw - 44.4px)";

/** `srcset` with width descriptors over the renditions (any order: the browser picks). */
export const srcsetOf = (renditions: readonly Rendition[]) =>
  renditions.map((rendition) => `${rendition.url} ${rendition.width}w`).join(", ");

/** The ThumbHash (base64) drawn as a small PNG data URL, or undefined when there is none or it is broken. */
export function placeholderDataUrl(placeholder: string | null | undefined): string | undefined {
  if (!placeholder) return undefined;
  try {
    return thumbHashToDataURL(Uint8Array.from(atob(placeholder), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

interface PictureOptions {
  renditions: readonly Rendition[];
  /** What images stored before the size ladder (no renditions) show. */
  fallbackUrl: string;
  placeholder: string | null | undefined;
  sizes: string;
  alt: string;
  width: number | null;
  height: number | null;
  className?: string;
  lazy: boolean;
}

/**
 * An `<img srcset sizes>` over the renditions, with `width`/`height` for the layout, painted with
 * the placeholder (as its background, under the picture) until the picture has loaded.
 */
export function picture(options: PictureOptions): HTMLImageElement {
  const { renditions } = options;
  const largest = renditions.at(-1);
  const img = h("img", {
    class: options.className,
    alt: options.alt,
    // The aspect ratio the layout reserves before any byte arrives.
    width: String(options.width ?? largest?.width ?? 320),
    height: String(options.height ?? largest?.height ?? 240),
    loading: options.lazy ? "lazy" : null,
    decoding: "async",
    // sizes and srcset before src, so the browser never starts on the fallback first.
    sizes: renditions.length > 0 ? options.sizes : null,
    srcset: renditions.length > 0 ? srcsetOf(renditions) : null,
  });
  const painted = placeholderDataUrl(options.placeholder);
  if (painted) {
    img.classList.add("placeholder");
    img.style.backgroundImage = `url("${painted}")`;
    img.addEventListener(
      "load",
      () => {
        img.classList.remove("placeholder");
        img.style.removeProperty("background-image");
      },
      { once: true },
    );
  }
  img.src = renditions[0]?.url ?? options.fallbackUrl;
  return img;
}

/** A grid tile's picture of a listed image: lazy, sized by the grid, no alt (the tile says it). */
export const tilePicture = (image: ListedImage): HTMLImageElement =>
  picture({
    renditions: image.renditions,
    fallbackUrl: image.thumbnail_url,
    placeholder: image.placeholder,
    sizes: GRID_SIZES,
    alt: "",
    width: image.width,
    height: image.height,
    lazy: true,
  });
