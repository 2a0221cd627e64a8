/**
 * The MeSH tree, for coarse labels: PubMed records name their descriptors (UI and name) but not where they sit in
 * the tree. NLM publishes the tree as the descriptor XML (desc20XX.xml: DescriptorUI, DescriptorName, TreeNumber)
 * and as the "mtrees" text file (mtrees20XX.bin: one "Name;TreeNumber" per line); either reads here (plain or .gz).
 * Level N of a tree number is its first N parts: C04.557.470 → level 1 "C04" (Neoplasms), level 2 "C04.557".
 */
import { DataError, decodeFile } from '../readers.js';
import { readXml, TextCapture } from './xml.js';

export interface MeshTree {
  /** descriptor UI (D000328) → tree numbers (only from the descriptor XML) */
  byUi: Map<string, string[]>;
  /** descriptor name → tree numbers */
  byName: Map<string, string[]>;
  /** tree number → descriptor name */
  names: Map<string, string>;
}

const add = (m: Map<string, string[]>, k: string, v: string) => {
  const list = m.get(k);
  if (!list) m.set(k, [v]);
  else if (!list.includes(v)) list.push(v);
};

async function readMtrees(file: string, tree: MeshTree): Promise<void> {
  let pending = '';
  let line = 0;
  const take = (raw: string) => {
    line++;
    const l = raw.replace(/\r$/, '');
    if (!l.trim()) return;
    const i = l.lastIndexOf(';');
    const number = l.slice(i + 1).trim();
    if (i <= 0 || !/^[A-Z]\d{2}(\.\d{3})*$/.test(number))
      throw new DataError(`${file} line ${line} is not "Name;TreeNumber" (the MeSH mtrees format)`);
    const name = l.slice(0, i).trim();
    add(tree.byName, name, number);
    tree.names.set(number, name);
  };
  for await (const chunk of decodeFile(file)) {
    pending += chunk;
    let i;
    while ((i = pending.indexOf('\n')) >= 0) {
      take(pending.slice(0, i));
      pending = pending.slice(i + 1);
    }
  }
  if (pending) take(pending);
}

async function readDescriptorXml(file: string, tree: MeshTree): Promise<void> {
  const text = new TextCapture();
  let ui = '';
  let name = '';
  let numbers: string[] = [];
  const parent = (path: readonly string[], k: number) => path[path.length - 1 - k];
  await readXml(file, {
    root: (r) => {
      if (r !== 'DescriptorRecordSet')
        throw new DataError(`${file}: the root element is <${r}>, expected <DescriptorRecordSet> (MeSH descriptors)`);
    },
    open: (n, _a, path) => {
      if (n === 'DescriptorRecord') [ui, name, numbers] = ['', '', []];
      const inRecord = parent(path, 1) === 'DescriptorRecord';
      const nameString =
        n === 'String' && parent(path, 1) === 'DescriptorName' && parent(path, 2) === 'DescriptorRecord';
      if (
        (inRecord && n === 'DescriptorUI') ||
        nameString ||
        (n === 'TreeNumber' && parent(path, 2) === 'DescriptorRecord')
      )
        text.start();
    },
    close: (n, path) => {
      if (!text.active) {
        if (n !== 'DescriptorRecord') return;
        for (const t of numbers) {
          add(tree.byUi, ui, t);
          add(tree.byName, name, t);
          tree.names.set(t, name);
        }
        return;
      }
      const s = text.end();
      if (n === 'DescriptorUI') ui = s;
      else if (n === 'TreeNumber') numbers.push(s);
      else if (parent(path, 1) === 'DescriptorName') name = s;
    },
    text: (t) => text.add(t),
  });
}

/** Reads a MeSH tree file: the descriptor XML (.xml, .xml.gz) or the mtrees text file (anything else). */
export async function readMeshTree(file: string): Promise<MeshTree> {
  const tree: MeshTree = { byUi: new Map(), byName: new Map(), names: new Map() };
  if (/\.xml(\.gz)?$/i.test(file)) await readDescriptorXml(file, tree);
  else await readMtrees(file, tree);
  if (!tree.names.size) throw new DataError(`${file} holds no MeSH tree numbers`, 'E_INPUT_EMPTY');
  return tree;
}

/** A tree number cut to its first `level` parts. */
export const treeLevel = (number: string, level: number): string => number.split('.').slice(0, level).join('.');

/**
 * The coarse labels of one descriptor: the names of its ancestors at `level` (its tree numbers cut to that level),
 * only in the `branches` given (tree-number prefixes such as "C" or "C04"); empty when it has none there.
 */
export function coarseLabels(
  tree: MeshTree,
  d: { ui: string; name: string },
  o: { level?: number; branches?: string[] },
): string[] {
  const numbers = tree.byUi.get(d.ui) ?? tree.byName.get(d.name) ?? [];
  const inBranch = numbers.filter((t) => !o.branches?.length || o.branches.some((b) => t.startsWith(b)));
  if (!o.level) return inBranch.length ? [d.name] : [];
  return [...new Set(inBranch.map((t) => treeLevel(t, o.level!)).map((t) => tree.names.get(t) ?? t))];
}
