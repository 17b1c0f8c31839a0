// exifr's own modules (its package has no exports map): capture-time.ts loads only the readers and
// parsers it needs, a third of the full build's size in the Lambda bundle. Types as exifr's index.d.ts.
declare module "exifr/src/core.mjs" {
  export function parse(
    input: string | Uint8Array | ArrayBuffer,
    options?: Record<string, unknown>,
  ): Promise<Record<string, unknown> | undefined>;
}
declare module "exifr/src/file-readers/FsReader.mjs";
declare module "exifr/src/file-parsers/jpeg.mjs";
declare module "exifr/src/file-parsers/png.mjs";
declare module "exifr/src/file-parsers/heif.mjs";
declare module "exifr/src/segment-parsers/tiff-exif.mjs";
declare module "exifr/src/segment-parsers/ihdr.mjs";
