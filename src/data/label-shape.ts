/**
 * Whether the values of a column look like labels or group names (short, few) or like free text (notes: long and
 * nearly unique). Free text may be patient text: it is never quoted in a message, and a label or group column that
 * holds it is refused (the text and label columns are swapped, or the wrong column was named).
 */

/** Longest value quoted in a message as a label or group name. */
export const LABEL_MAX_CHARS = 40;

/** A value short enough, and on one line, to be named in a message as a label. */
export const labelLike = (v: string): boolean => v.length <= LABEL_MAX_CHARS && !/[\r\n]/.test(v);

/** Long, nearly unique values: more than half of the rows distinct and at least half of them longer than a label. */
export function looksLikeText(values: readonly string[]): boolean {
  if (values.length < 2) return false;
  const distinct = new Set(values).size;
  const long = values.filter((v) => !labelLike(v)).length;
  return distinct > values.length / 2 && long >= values.length / 2;
}

/** Values described without quoting any: "21 distinct of 21 values, up to 160 characters". */
export function describeValues(values: readonly string[]): string {
  const longest = values.reduce((m, v) => Math.max(m, v.length), 0);
  return `${new Set(values).size} distinct of ${values.length} values, up to ${longest} characters`;
}
