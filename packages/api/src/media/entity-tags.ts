/** An entity-tag (RFC 9110 8.8.3): optional `W/`, then a quoted opaque tag; the quotes are kept. */
const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")/;

/**
 * Whether an If-None-Match field value matches the current entity-tag (RFC 9110 13.1.2): `*`
 * matches any current representation; otherwise the field is a comma-separated list, compared
 * weakly (`W/"x"` matches `"x"`). A member that is not an entity-tag ends the list: what came
 * before it still counts, nothing after it does.
 */
export function ifNoneMatchMatches(fieldValue: string | undefined, currentEtag: string): boolean {
  if (fieldValue === undefined) return false;
  if (fieldValue.trim() === "*") return true;
  const current = ENTITY_TAG.exec(currentEtag)?.[2];
  if (current === undefined) return false;
  // Commas may sit inside a quoted tag, so the list is read member by member, not split.
  let rest = fieldValue;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, "");
    if (rest === "") return false;
    const member = ENTITY_TAG.exec(rest);
    if (!member) return false;
    if (member[2] === current) return true;
    rest = rest.slice(member[0].length);
    if (!/^\s*(,|$)/.test(rest)) return false;
  }
}
