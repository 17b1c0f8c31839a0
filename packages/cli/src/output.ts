import { formatBytes, type Image, type ImageWithLinks, type ListedImage } from "@images/client";

const dimensions = (image: Pick<Image, "width" | "height">) =>
  image.width !== null && image.height !== null ? `${image.width}x${image.height}` : "";

const shorten = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function formatImageTable(images: ListedImage[]): string {
  return formatTable(
    ["ID", "TITLE", "OWNER", "TAGS", "UPLOADED", "SIZE", "PIXELS"],
    images.map((image) => [
      image.image_id,
      shorten(image.title, 40),
      image.user_id,
      image.tags.join(","),
      image.upload_time.slice(0, 16).replace("T", " "),
      formatBytes(image.size_bytes),
      dimensions(image),
    ]),
  );
}

/** One image as `field: value` lines, the way `images get` prints it. */
export function formatImageDetails(image: Image | ImageWithLinks): string {
  const rows: [string, string | null | undefined][] = [
    ["id", image.image_id],
    ["title", image.title],
    ["description", image.description],
    ["owner", image.user_id],
    ["tags", image.tags.join(", ")],
    ["uploaded", image.upload_time],
    ["status", image.status],
    ["failure", image.failure_reason],
    ["type", image.content_type],
    ["size", `${formatBytes(image.size_bytes)} (${image.size_bytes} bytes)`],
    ["pixels", dimensions(image)],
    ["sha256", image.sha256],
  ];
  if ("download_url" in image && image.download_url) {
    rows.push(["download", image.download_url], ["expires", image.download_expires_at]);
  }
  const shown = rows.filter((row): row is [string, string] => typeof row[1] === "string" && row[1] !== "");
  const width = Math.max(...shown.map(([name]) => name.length)) + 1;
  return shown.map(([name, value]) => `${`${name}:`.padEnd(width)} ${value}`).join("\n");
}
