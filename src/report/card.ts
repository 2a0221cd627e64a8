/**
 * The model card, best_model/README.md: HuggingFace YAML front matter (base_model, datasets, metrics, model-index
 * with the evaluation results exactly as metrics.json has them, license, tags, pipeline_tag) and the sections of
 * Mitchell et al. 2019 with the medical additions (intended users, what was not validated, who must review).
 * Rendered from the model folder and, when found, its run folder (metrics.json, run.json, predictions.jsonl).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { modelIdentity, parseMetadata, type MedtuneMetadata } from '../models/metadata.js';
import { overallIntervals, type AuditResult } from './audit.js';
import { auditOfFolder } from './report.js';
import { auditRows, loadRunFolder, type Json, type RunFolder } from './run-folder.js';

export const NOT_VALIDATED = 'Clinical validation status: not validated — a clinician must review every output.';

/** YAML from plain data: block style, strings double-quoted as JSON (a subset of YAML 1.2 that any parser reads). */
export function toYaml(v: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  const scalar = (x: unknown) => (typeof x === 'number' ? (Number.isFinite(x) ? String(x) : 'null') : x === null || x === undefined ? 'null' : JSON.stringify(x));
  const key = (k: string) => (/^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k));
  const isBlock = (x: unknown) => !!x && typeof x === 'object' && Object.keys(x).length > 0;
  if (Array.isArray(v)) {
    return v.map((item) => {
      if (!isBlock(item)) return `${pad}- ${Array.isArray(item) ? '[]' : item && typeof item === 'object' ? '{}' : scalar(item)}\n`;
      const inner = toYaml(item, indent + 2);
      return `${pad}- ${inner.slice(indent + 2)}`;
    }).join('');
  }
  return Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => {
    if (isBlock(x)) return `${pad}${key(k)}:\n${toYaml(x, indent + 2)}`;
    return `${pad}${key(k)}: ${Array.isArray(x) ? '[]' : x && typeof x === 'object' ? '{}' : scalar(x)}\n`;
  }).join('');
}

interface CardInput {
  modelDir: string;
  config: Json;
  meta: MedtuneMetadata;
  identity: { sha256: string; version: string };
  run: RunFolder | null;
  audit: AuditResult | null;
  license: string;
}

const HUB_NAME = /^[\w.-]+\/[\w.-]+$/;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const f4 = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '–');

/** HF model-index metrics from metrics.json: the same numbers, unrounded. */
function indexMetrics(m: Json, multi: boolean): { type: string; value: number; name: string; args?: Json }[] {
  const spec: [string, string, string, Json?][] = multi
    ? [['f1_micro', 'f1', 'Micro F1', { average: 'micro' }], ['f1_macro', 'f1', 'Macro F1', { average: 'macro' }], ['precision_micro', 'precision', 'Micro precision', { average: 'micro' }],
      ['recall_micro', 'recall', 'Micro recall', { average: 'micro' }], ['subset_accuracy', 'accuracy', 'Subset accuracy']]
    : [['accuracy', 'accuracy', 'Accuracy'], ['f1_macro', 'f1', 'Macro F1', { average: 'macro' }], ['f1_weighted', 'f1', 'Weighted F1', { average: 'weighted' }],
      ['precision_macro', 'precision', 'Macro precision', { average: 'macro' }], ['recall_macro', 'recall', 'Macro recall', { average: 'macro' }], ['roc_auc_ovr', 'roc_auc', 'ROC-AUC (one vs rest, macro)']];
  return spec.filter(([k]) => typeof m[k] === 'number').map(([k, type, name, args]) => ({ type, value: m[k] as number, name, ...(args ? { args } : {}) }));
}

function frontMatter(c: CardInput): Json {
  const m = c.run?.metrics;
  const multi = c.run?.multiLabel ?? false;
  const base = c.meta.training?.base_model;
  const data = c.meta.training?.data ?? [];
  const evalSplit = String(m?.split ?? 'test');
  const evalFile = data.find((d) => d.split === evalSplit) ?? data.find((d) => d.split === 'train');
  const name = path.basename(path.resolve(c.modelDir, path.basename(c.modelDir) === 'best_model' ? '..' : '.'));
  return {
    license: c.license,
    ...(base && HUB_NAME.test(base) && !existsSync(base) ? { base_model: base } : {}),
    library_name: 'transformers',
    pipeline_tag: 'text-classification',
    tags: ['medtune', 'text-classification', 'clinical', 'medical', 'not-clinically-validated'],
    datasets: [...new Set(data.map((d) => path.basename(d.file)))],
    metrics: [...new Set(m ? indexMetrics(m, multi).map((x) => x.type) : [])],
    ...(m ? {
      'model-index': [{
        name,
        results: [{
          task: { type: 'text-classification', name: 'Text Classification' },
          dataset: { name: evalFile ? path.basename(evalFile.file) : evalSplit, type: 'local', split: evalSplit },
          metrics: indexMetrics(m, multi),
        }],
      }],
    } : {}),
  };
}

function detailsSection(c: CardInput): string {
  const cfg = c.config;
  const labels = Object.values(obj(cfg.id2label)).map(String);
  const t = c.meta.training ?? {};
  const rows = [
    ['architecture', `${cfg.model_type} (${cfg.num_hidden_layers ?? cfg.n_layers ?? '?'} layers, hidden size ${cfg.hidden_size ?? cfg.dim ?? '?'}), sequence classification`],
    ['problem type', String(cfg.problem_type ?? 'single_label_classification')],
    ['labels', `${labels.length}: ${labels.join(', ')}`],
    ['base model', t.base_model ? `\`${t.base_model}\`` : 'unknown'],
    ['version', `\`${c.identity.version}\``], ['sha256 (weights)', `\`${c.identity.sha256}\``],
    ...(c.meta.parent_sha256 ? [['parent sha256', `\`${c.meta.parent_sha256}\``]] : []),
    ['trained', `${t.finished_at ?? 'unknown'} with medtune`],
    ['calibration', c.meta.temperature ? `temperature ${c.meta.temperature.toFixed(4)}` : c.meta.thresholds ? 'per-label thresholds' : 'none'],
    ['abstention', c.meta.abstain ? `below confidence ${c.meta.abstain.below.toFixed(4)} ("refer to a clinician")` : 'off'],
    ['text cleaning', c.meta.preprocessing ? `\`${JSON.stringify(c.meta.preprocessing)}\`` : 'none'],
  ];
  return `## Model details\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
}

const INTENDED = `## Intended use and users

Decision support: suggesting diagnosis classes for free-text symptom descriptions or clinical notes of the kind it was trained on,
for a clinician, clinical coder or researcher who reviews every suggestion. Also: a baseline for research on the same label set.
Every output is a suggestion with a probability; the model may abstain ("refer to a clinician").

## Out-of-scope uses

- Diagnosing, triaging or treating a patient without a clinician reviewing the output.
- Populations, care settings, note types, languages or label sets it was not trained and evaluated on (see the data below):
  they are not validated. The model only knows its labels; a patient with another condition still gets one of them.
- Any use as a medical device.
`;

function dataSection(c: CardInput): string {
  const data = c.meta.training?.data ?? [];
  const run = c.run?.run;
  const deid = run?.deid ?? obj(c.meta.training?.recipe).deid;
  const fileRows = data.map((d) => `| ${d.split ?? ''} | \`${path.basename(d.file)}\` | ${d.rows ?? '–'} | \`${d.sha256}\` |`).join('\n');
  const note = run?.data_note ? `\n${String(run.data_note)}\n` : '';
  const splits = obj(run?.splits);
  const balance = Object.entries(obj(obj(splits.train).classes)).map(([l, n]) => `${l} ${n}`).join(', ');
  const evalSplit = String(c.run?.metrics?.split ?? run?.evaluated_split ?? '');
  return `## Training data
${note}
| split | file | rows | sha256 |
|---|---|---|---|
${fileRows || '| – | – | – | – |'}

De-identification: ${deid ? `PHI was replaced before tokenising (\`--deid\`, operator ${deid}).` : 'none was applied by medtune (`--deid` was not used); the data were used as they are.'}
${balance ? `\nClass balance of the training split: ${balance}.\n` : ''}
## Evaluation data

${evalSplit ? `The ${evalSplit} split (${c.run?.metrics?.n ?? '–'} rows; file and sha256 above).` : 'Not known: no metrics.json was found beside the model.'}
${evalSplit === 'validation' ? 'It is the split the best checkpoint was chosen on, so the numbers are optimistic: evaluate on held-out data.\n' : ''}`;
}

function metricsSection(c: CardInput): string {
  const m = c.run?.metrics;
  if (!m) return '## Metrics\n\nNo evaluation results were found beside this model (no metrics.json in its run folder). Evaluate it with `medtune evaluate`.\n';
  const multi = c.run!.multiLabel;
  const b = obj(m.baseline);
  const rows = c.run!.predictions ? auditRows(c.run!.predictions, c.run!.labels, multi) : [];
  const ci = rows.length ? overallIntervals(rows, { labels: c.run!.labels, multiLabel: multi, seed: typeof c.run!.run?.seed === 'number' ? c.run!.run.seed : 42 }) : null;
  const keys = multi ? ['f1_micro', 'f1_macro', 'subset_accuracy'] : ['accuracy', 'f1_macro', 'f1_weighted', 'roc_auc_ovr'];
  const ciOf = (k: string) => (ci && (k === 'accuracy' || k === 'subset_accuracy') ? ci.accuracy : ci && k === 'f1_macro' ? ci.f1_macro : null);
  const lines = keys.filter((k) => typeof m[k] === 'number').map((k) => {
    const i = ciOf(k);
    return `| ${k} | ${f4(m[k])} | ${i ? `[${i[0].toFixed(4)}, ${i[1].toFixed(4)}]` : '–'} | ${f4(b[k])} |`;
  });
  const per = (m.per_class ?? m.per_label) as { label: string; f1: number; recall: number; support: number }[] | undefined;
  const worst = Array.isArray(per) ? [...per].filter((r) => r.support > 0).sort((x, y) => x.f1 - y.f1).slice(0, 3) : [];
  return `## Metrics

On the ${m.split} split (${m.n} rows). Intervals: seeded bootstrap, 95 %, ${ci ? 'from predictions.jsonl' : 'not available (no predictions.jsonl)'}.
Baseline: TF-IDF + logistic regression on the same rows.

| metric | model | 95 % interval | baseline |
|---|---|---|---|
${lines.join('\n')}
${worst.length ? `\nWeakest classes (F1): ${worst.map((r) => `${r.label} ${r.f1.toFixed(3)} (recall ${r.recall.toFixed(3)}, ${r.support} rows)`).join('; ')}.\n` : ''}`;
}

function calibrationSection(c: CardInput): string {
  const m = obj(c.run?.metrics);
  const cal = obj(m.calibration);
  const sel = obj(m.selective);
  const acc = obj(sel.accuracy_at_coverage);
  const parts = [
    cal.ece_before !== undefined ? `Temperature scaling (T = ${f4(cal.temperature)}, fitted on ${cal.fitted_on}): ECE ${f4(cal.ece_before)} → ${f4(cal.ece_after)}, NLL ${f4(cal.nll_before)} → ${f4(cal.nll_after)} on ${cal.evaluated_on}.` : '',
    cal.f1_micro_tuned !== undefined ? `Per-label thresholds: micro-F1 ${f4(cal.f1_micro_at_0_5)} at 0.5, ${f4(cal.f1_micro_tuned)} tuned.` : '',
    !cal.ece_before && obj(m.calibration_metrics).ece !== undefined ? `ECE of the probabilities as used: ${f4(obj(m.calibration_metrics).ece)}.` : '',
    sel.aurc !== undefined ? `Selective classification: AURC ${f4(sel.aurc)}; accuracy at 80 % coverage ${f4(acc['0.8'])}.` : '',
    m.abstention ? `The model abstained on ${obj(m.abstention).abstained} rows of the evaluation split.` : '',
  ].filter(Boolean);
  return `## Calibration\n\n${parts.length ? parts.join('\n') : 'No calibration results were found.'}\nA calibrated 0.9 means about 9 in 10 such notes were right on validation data, not a 90 % chance that this patient has the disease.\n`;
}

function subgroupSection(c: CardInput): string {
  const a = c.audit;
  if (!a) return '## Subgroup results\n\nNo subgroup analysis was run (train or evaluate with `--audit-column`, or `medtune audit`): performance across sex, age, site or note type is **unknown**.\n';
  const cols = a.columns.map((col) => {
    const rows = col.groups.map((g) => `| ${col.column} | ${g.group} | ${g.n} | ${g.accuracy.toFixed(4)} | ${g.gaps?.accuracy ? `${g.gaps.accuracy.gap >= 0 ? '+' : ''}${g.gaps.accuracy.gap.toFixed(4)} [${g.gaps.accuracy.ci[0].toFixed(4)}, ${g.gaps.accuracy.ci[1].toFixed(4)}]` : '–'} | ${g.judged ? (Object.values(g.gaps ?? {}).some((x) => x.flagged) ? '**flagged**' : '') : 'too small to judge'} |`);
    return rows.join('\n');
  }).join('\n');
  const flagged = a.flagged.length ? `**Flagged:** ${a.flagged.map((f) => `${f.column} = ${f.group} (${f.metric} ${f.gap >= 0 ? '+' : ''}${f.gap.toFixed(4)}, interval [${f.ci[0].toFixed(4)}, ${f.ci[1].toFixed(4)}])`).join('; ')}.` : 'No gap flagged.';
  return `## Subgroup results

${flagged} Gap: a group's accuracy minus that of all other rows, with a bootstrap interval (${a.method.resamples} resamples,
95 % for all groups of a column together); groups under ${a.method.min_group} rows are too small to judge.

| column | group | n | accuracy | gap to the rest [interval] | |
|---|---|---|---|---|---|
${cols}
`;
}

function limitationsSection(c: CardInput): string {
  const m = obj(c.run?.metrics);
  const b = obj(m.baseline);
  const splits = obj(c.run?.run?.splits);
  const items = [
    typeof m.n === 'number' && m.n < 1000 ? `The evaluation set is small (${m.n} rows): the intervals above are wide, and rare failure modes go unseen.` : '',
    typeof m.accuracy === 'number' && typeof b.accuracy === 'number' && b.accuracy >= m.accuracy ? `The TF-IDF baseline (${f4(b.accuracy)}) is as good as or better than this model (${f4(m.accuracy)}).` : '',
    ...Object.entries(splits).filter(([, s]) => Number(obj(s).truncated) > 0).map(([k, s]) => `${obj(s).truncated} ${k} texts were longer than ${obj(s).max_length} tokens and were cut: the model never saw their ends.`),
    c.audit?.flagged.length ? 'It does measurably worse for some groups (see Subgroup results).' : '',
    !c.audit ? 'Its performance across demographic groups, sites and note types was not measured.' : '',
    'It was evaluated on data from the same source as its training data; performance on other hospitals, note styles or time periods is unknown.',
    'It assigns one of its labels to every text, including texts about conditions it was never trained on.',
  ].filter(Boolean);
  return `## Limitations\n\n${items.map((x) => `- ${x}`).join('\n')}\n`;
}

const ETHICS = `## Ethical considerations

- Clinical text is sensitive. Check the de-identification status above before sharing this model: a model can memorise rare
  strings of its training data. The run report (\`report.html\`) quotes evaluation texts and is as sensitive as the data.
- Errors are not evenly spread: subgroup gaps may reflect how notes about a group are written, which classes the group has, or
  how few of its notes were in training. A group too small to judge is not a group for which the model is known to work.
- Suggestions can anchor a reader: present them as suggestions, with their probability, and never hide the abstentions.
`;

function reproduceSection(c: CardInput): string {
  const run = c.run?.run;
  const cmd = Array.isArray(run?.command) ? (run!.command as string[]).join(' ') : null;
  return `## How to reproduce

${cmd ? `\`\`\`\n${cmd}\n\`\`\`\n` : 'The command line was not recorded (no run.json beside the model).\n'}
With the same data files (check their sha256 above), seed ${c.meta.training?.seed ?? run?.seed ?? '–'}, medtune ${run?.medtune_version ?? '0.1.0'}${run ? ` and the ${run.backend} backend with ${run.threads} threads` : ''}.
The recipe is in \`config.json\` under \`medtune.training\`. \`medtune card ${c.modelDir}\` rewrites this card.
`;
}

/** The card as Markdown with YAML front matter. */
export function renderCard(c: CardInput): string {
  const title = `# Model card: ${path.basename(path.resolve(c.modelDir, path.basename(c.modelDir) === 'best_model' ? '..' : '.'))}`;
  return `---\n${toYaml(frontMatter(c))}---\n\n${title}\n\n> **${NOT_VALIDATED}**\n\n${[
    detailsSection(c), INTENDED, dataSection(c), metricsSection(c), calibrationSection(c), subgroupSection(c), limitationsSection(c), ETHICS,
    `## Clinical validation status\n\n**Not validated** — a clinician must review every output. No prospective or clinical study has been done with this model.\n`,
    reproduceSection(c),
  ].join('\n')}`;
}

/** The license of the base model when its folder has a card (else "unknown"). */
function baseLicense(meta: MedtuneMetadata): string {
  const base = meta.training?.base_model;
  const readme = base ? path.join(base, 'README.md') : '';
  if (!readme || !existsSync(readme)) return 'unknown';
  const m = /^---\n[\s\S]*?^license:\s*"?([\w.-]+)"?\s*$[\s\S]*?^---/m.exec(readFileSync(readme, 'utf8'));
  return m?.[1] ?? 'unknown';
}

/** Writes MODEL_DIR/README.md; the run folder defaults to the model folder's parent when it holds metrics.json. */
export function writeModelCard(modelDir: string, o: { runDir?: string; license?: string } = {}): { file: string; run: string | null } {
  const configFile = path.join(modelDir, 'config.json');
  if (!existsSync(configFile)) throw new MedtuneError(`${modelDir} has no config.json; give a model folder (e.g. the best_model/ of a training run)`, 'E_MODEL_NOT_FOUND');
  const file = path.join(modelDir, 'README.md');
  prepareOutputFile(file, { option: 'model card' });
  let config: Json;
  try {
    config = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch {
    throw new MedtuneError(`${configFile} is not valid JSON`, 'E_MODEL_WEIGHTS');
  }
  const meta = parseMetadata(config.medtune, configFile);
  const runDir = o.runDir ?? (existsSync(path.join(modelDir, '..', 'metrics.json')) ? path.join(modelDir, '..') : null);
  const run = runDir ? loadRunFolder(runDir) : null;
  const identity = modelIdentity(modelDir, meta);
  const evaluated = obj(run?.metrics?.model).sha256;
  if (evaluated && evaluated !== identity.sha256) {
    throw new MedtuneError(`the metrics in ${runDir} are of model version ${String(obj(run!.metrics!.model).version)}, not of ${modelDir} (version ${identity.version}); `
      + 'pass the run folder of this model with --run', 'E_USAGE');
  }
  const audit = run ? auditOfFolder(run) : null;
  writeFileAtomic(file, renderCard({ modelDir, config, meta, identity, run, audit, license: o.license ?? baseLicense(meta) }));
  return { file, run: runDir };
}
