import type { ListQuery } from "./api.ts";

/** The gallery's filters, as the filter form and the address bar hold them. */
export interface Filters {
  user: string;
  tag: string;
  /** YYYY-MM-DD: a date alone means that whole UTC day to the API. */
  from: string;
  to: string;
}

/** Everything a shared link restores: the filters and the open image. */
export interface ViewState {
  filters: Filters;
  image: string | null;
}

const FILTER_NAMES = ["user", "tag", "from", "to"] as const;

export function readViewState(search: string): ViewState {
  const params = new URLSearchParams(search);
  const value = (name: string) => params.get(name)?.trim() ?? "";
  return {
    filters: { user: value("user"), tag: value("tag"), from: value("from"), to: value("to") },
    image: value("image") || null,
  };
}

/** The address bar's search string for a view ("" when there is nothing to say). */
export function viewStateSearch({ filters, image }: ViewState): string {
  const params = new URLSearchParams();
  for (const name of FILTER_NAMES) if (filters[name]) params.set(name, filters[name]);
  if (image) params.set("image", image);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export const PAGE_SIZE = 24;

/** The API's list query for the filters (its names: user_id, tag, from, to). */
export function listQuery(filters: Filters, cursor?: string | null): ListQuery {
  return {
    limit: PAGE_SIZE,
    ...(filters.user ? { user_id: filters.user } : {}),
    ...(filters.tag ? { tag: filters.tag } : {}),
    ...(filters.from ? { from: filters.from } : {}),
    ...(filters.to ? { to: filters.to } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

export const hasFilters = (filters: Filters) => FILTER_NAMES.some((name) => filters[name] !== "");

/**
 * "a, B ,b,,c d" -> ["a", "b", "c d"]: split on commas only, as the API splits a form's tags,
 * trimmed, lower-cased and de-duplicated as it keeps them. A space inside a tag stays, and the
 * API answers it as the field error it is.
 */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(",")
        .map((tag) => tag.trim().toLowerCase())
        .filter((tag) => tag !== ""),
    ),
  ];
}
