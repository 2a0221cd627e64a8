/**
 * MEDLINE/PubMed XML (PubmedArticleSet: the annual baseline and daily update files, or an efetch download) → a
 * labelled file: title + abstract as text (a structured abstract keeps its section labels: "METHODS: ..."), the MeSH
 * descriptors as labels (major topics only, or all), optionally replaced by their ancestors at a MeSH tree level
 * (e.g. level 1 of branch C: the disease categories such as "Neoplasms"). The PMID is kept; a PMID seen again (an
 * update file) replaces the earlier record. Articles without an abstract or without a MeSH label are left out.
 */
import { checkInputFile, DataError } from '../readers.js';
import { type DatasetResult, type Log } from './io.js';
import { coarseLabels, readMeshTree, type MeshTree } from './mesh.js';
import { buildRecordDataset, type RecordOptions, type RecordSource, type SourceRecord } from './records.js';
import { readXml, TextCapture } from './xml.js';

export interface PubmedOptions extends RecordOptions {
  /** PubMed XML files (.xml or .xml.gz) */
  input: string[];
  /** major: descriptors that are a major topic (on the descriptor or one of its qualifiers); all: every one */
  mesh?: 'major' | 'all';
  /** replace each descriptor by its ancestors at this tree level (needs meshTree) */
  meshLevel?: number;
  /** keep only descriptors under these tree-number prefixes, comma-separated (e.g. "C"; needs meshTree) */
  meshBranch?: string;
  /** the MeSH tree: desc20XX.xml[.gz] or mtrees20XX.bin */
  meshTree?: string;
  log?: Log;
}

interface Descriptor {
  ui: string;
  name: string;
  major: boolean;
}

interface Article {
  pmid: string;
  title: string;
  sections: string[];
  mesh: Descriptor[];
}

/** The visitor of one PubMed XML file: hands each finished article to `done`. */
function articleVisitor(file: string, done: (a: Article) => void, drop: (why: string) => void) {
  const text = new TextCapture();
  let a: Article | null = null;
  let heading: Descriptor | null = null;
  let label = '';
  const parentIs = (path: readonly string[], name: string) => path[path.length - 2] === name;
  return {
    root: (r: string) => {
      if (r !== 'PubmedArticleSet') {
        throw new DataError(
          `${file}: the root element is <${r}>, expected <PubmedArticleSet> (MEDLINE/PubMed XML)`,
          'E_INPUT_FORMAT',
        );
      }
    },
    open: (n: string, attrs: Record<string, string>, path: readonly string[]) => {
      if (n === 'PubmedArticle') a = { pmid: '', title: '', sections: [], mesh: [] };
      else if (n === 'PubmedBookArticle') drop('book_records');
      else if (n === 'DeleteCitation') drop('delete_citation_entries');
      if (!a) return;
      if (n === 'MeshHeading') heading = null;
      if (n === 'DescriptorName' && parentIs(path, 'MeshHeading')) {
        heading = { ui: attrs.UI ?? '', name: '', major: attrs.MajorTopicYN === 'Y' };
        text.start();
      } else if (n === 'QualifierName' && heading && attrs.MajorTopicYN === 'Y') heading.major = true;
      else if (n === 'PMID' && parentIs(path, 'MedlineCitation')) text.start();
      else if (n === 'ArticleTitle' && parentIs(path, 'Article')) text.start();
      else if (n === 'AbstractText' && parentIs(path, 'Abstract') && path[path.length - 3] === 'Article') {
        label = attrs.Label ?? '';
        text.start();
      }
    },
    close: (n: string, path: readonly string[]) => {
      if (!a) return;
      if (n === 'PubmedArticle') {
        done(a);
        a = null;
      } else if (!text.active) return;
      else if (n === 'DescriptorName' && heading) {
        heading.name = text.end();
        a.mesh.push(heading);
      } else if (n === 'PMID' && parentIs(path, 'MedlineCitation')) a.pmid = text.end();
      else if (n === 'ArticleTitle') a.title = text.end();
      else if (n === 'AbstractText') {
        const s = text.end();
        if (s) a.sections.push(label ? `${label}: ${s}` : s);
      }
    },
    text: (t: string) => text.add(t),
  };
}

/** The labels of an article under the options: descriptor names, or their ancestors' names at a tree level. */
function articleLabels(a: Article, o: PubmedOptions, tree: MeshTree | null): string[] {
  const chosen = a.mesh.filter((d) => (o.mesh ?? 'major') === 'all' || d.major);
  if (!tree) return [...new Set(chosen.map((d) => d.name))];
  const branches = o.meshBranch
    ?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  return [...new Set(chosen.flatMap((d) => coarseLabels(tree, d, { level: o.meshLevel, branches })))];
}

function checkOptions(o: PubmedOptions): void {
  if (o.mesh && o.mesh !== 'major' && o.mesh !== 'all')
    throw new DataError(`--mesh must be major or all, got "${o.mesh}"`, 'E_USAGE');
  if ((o.meshLevel || o.meshBranch) && !o.meshTree) {
    throw new DataError(
      `--mesh-level and --mesh-branch need --mesh-tree: the MeSH tree (desc20XX.xml or mtrees20XX.bin from NLM)`,
      'E_USAGE',
    );
  }
  if (o.meshTree) checkInputFile(o.meshTree, '--mesh-tree');
}

/** PubMed XML as a record source. */
export function pubmedSource(o: PubmedOptions): RecordSource {
  checkOptions(o);
  return {
    name: 'PubMed',
    idColumn: 'pmid',
    inputs: o.input,
    settings: { mesh: o.mesh ?? 'major', mesh_level: o.meshLevel ?? null, mesh_branch: o.meshBranch ?? null },
    parse: async ({ add, drop, onBytes }) => {
      const tree = o.meshTree ? await readMeshTree(o.meshTree) : null;
      for (const file of o.input) {
        const visit = articleVisitor(
          file,
          (a) => {
            if (!a.pmid) throw new DataError(`${file}: an article has no MedlineCitation/PMID`, 'E_INPUT_DATA');
            if (!a.sections.length) return drop('without_abstract');
            const record: SourceRecord = {
              id: a.pmid,
              text: [a.title, a.sections.join('\n')].filter(Boolean).join('\n\n'),
              labels: articleLabels(a, o, tree),
            };
            add(record);
          },
          drop,
        );
        await readXml(file, visit, onBytes);
      }
    },
  };
}

/** `medtune data pubmed`: MEDLINE/PubMed XML → rows `text`, `labels` (MeSH), `pmid` (+ FILE.summary.json). */
export function buildPubmedDataset(o: PubmedOptions): Promise<DatasetResult> {
  return buildRecordDataset(pubmedSource(o), o);
}
