/**
 * Label standardisation: labels that differ only by case, whitespace or punctuation ("Urinary tract infection",
 * "urinary tract infection", "Urinary-tract infection") are variants of one label. They are found and reported;
 * merged on request, each group into its most frequent spelling (ties: the first in code-point order), with the
 * mapping kept for the summary. Shared by `medtune data` and `curate`.
 * Ties between spellings go to a tidy one (no stray spaces or punctuation at the ends), then to one that starts
 * with a capital, then to the first seen.
 */
import { normalizeForDedup } from './minhash.js';

/** The comparison key of a label: Unicode-normalised, lower-cased, punctuation and runs of spaces as one space. */
export const labelKey = (label: string): string => normalizeForDedup(label) || label.trim();

export interface LabelVariantGroup {
  /** the spelling the group merges into (its most frequent) */
  canonical: string;
  /** every spelling with its count, the canonical first */
  variants: { label: string; count: number }[];
}

export interface LabelVariants {
  /** groups of two or more spellings, largest total first */
  groups: LabelVariantGroup[];
  /** every non-canonical spelling → its canonical one */
  mapping: Record<string, string>;
}

interface Variant {
  label: string;
  count: number;
  /** first-seen position */
  at: number;
}

const untidy = (l: string): number => (/^[\s\p{P}]|[\s\p{P}]$|\s\s/u.test(l) ? 1 : 0);
const lowerFirst = (l: string): number => (/^\p{Ll}/u.test(l) ? 1 : 0);
const preferred = (a: Variant, b: Variant) =>
  b.count - a.count || untidy(a.label) - untidy(b.label) || lowerFirst(a.label) - lowerFirst(b.label) || a.at - b.at;

/** The groups of spellings of the same label among `counts` (label → number of rows carrying it, first seen first). */
export function findLabelVariants(counts: Map<string, number> | Record<string, number>): LabelVariants {
  const byKey = new Map<string, Variant[]>();
  const entries = counts instanceof Map ? [...counts] : Object.entries(counts);
  for (const [at, [label, count]] of entries.entries()) {
    const k = labelKey(label);
    const g = byKey.get(k);
    if (g) g.push({ label, count, at });
    else byKey.set(k, [{ label, count, at }]);
  }
  const groups: LabelVariantGroup[] = [];
  const mapping: Record<string, string> = Object.create(null); // labels such as __proto__ stay plain keys
  for (const variants of byKey.values()) {
    if (variants.length < 2) continue;
    variants.sort(preferred);
    const canonical = variants[0]!.label;
    for (const v of variants.slice(1)) mapping[v.label] = canonical;
    groups.push({ canonical, variants: variants.map((v) => ({ label: v.label, count: v.count })) });
  }
  const total = (g: LabelVariantGroup) => g.variants.reduce((a, v) => a + v.count, 0);
  groups.sort((a, b) => total(b) - total(a) || (a.canonical < b.canonical ? -1 : 1));
  return { groups, mapping };
}

/** A row's labels through a variant mapping, without duplicates, in their first order. */
export function mapLabels(labels: string[], mapping: Record<string, string>): string[] {
  const out: string[] = [];
  for (const l of labels) {
    const m = Object.hasOwn(mapping, l) ? mapping[l]! : l;
    if (!out.includes(m)) out.push(m);
  }
  return out;
}

/** One line for logs: how many groups of spellings, with the first few (label names only, never texts). */
export function describeVariants(v: LabelVariants, merged: boolean): string {
  if (!v.groups.length) return 'labels: no two labels differ only by case, spaces or punctuation';
  const ex = v.groups
    .slice(0, 3)
    .map((g) => g.variants.map((x) => `"${x.label}"`).join(' / '))
    .join('; ');
  const n = v.groups.length;
  const what = merged ? 'merged into the most frequent spelling' : 'merge them with --normalize-labels';
  return (
    `labels: ${n} group${n > 1 ? 's' : ''} of labels differ only by case, spaces or punctuation ` +
    `(${ex}${n > 3 ? '; …' : ''}); ${what}`
  );
}
