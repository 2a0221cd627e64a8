/**
 * The model card, best_model/README.md: HuggingFace YAML front matter (card-meta.ts) and the sections of Mitchell et
 * al. 2019 with the medical additions (intended users, what was not validated, who must review). Rendered from the
 * model folder and, when found, its run folder (metrics.json, run.json, predictions.jsonl).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { modelIdentity, parseMetadata, type MedtuneMetadata } from '../models/metadata.js';
import type { AuditResult } from './audit.js';
import { BOOTSTRAP_METHOD } from './bootstrap.js';
import { headlineOf } from './headline.js';
import { cardName, frontMatter, toYaml } from './card-meta.js';
import { auditOfFolder } from './report.js';
import { loadRunFolder, type Json, type RunFolder } from './run-folder.js';

export const NOT_VALIDATED = 'Clinical validation status: not validated — a clinician must review every output.';

interface CardInput {
  modelDir: string;
  config: Json;
  meta: MedtuneMetadata;
  identity: { sha256: string; version: string };
  run: RunFolder | null;
  audit: AuditResult | null;
  license: string;
}

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const f4 = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '–');
const pct = (v: number) => `${(v * 100).toFixed(v >= 0.995 && v < 1 ? 1 : 0)} %`;
const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(4)}`;
const ci4 = (ci: [number, number]) => `[${ci[0].toFixed(4)}, ${ci[1].toFixed(4)}]`;

/** The abstention rule in words: the confidence threshold, how it was chosen, whether out-of-scope notes abstain. */
function abstentionText(m: MedtuneMetadata): string {
  const a = m.abstain;
  if (!a) return 'off';
  const parts: string[] = [];
  if (a.below > 0) {
    const how =
      a.source === 'target_accuracy' && a.target_accuracy !== undefined
        ? `, chosen on validation for ${pct(a.target_accuracy)} accuracy of answered notes` +
          (a.coverage !== undefined ? ` (${pct(a.coverage)} of validation notes answered)` : '')
        : '';
    parts.push(`below confidence ${f4(a.below)}${how}`);
  }
  if (a.out_of_scope !== false && m.ood) parts.push('out-of-scope notes');
  return parts.length ? `${parts.join('; ')} ("decide without the model")` : 'off';
}

function detailsSection(c: CardInput): string {
  const cfg = c.config;
  const labels = Object.values(obj(cfg.id2label)).map(String);
  const t = c.meta.training ?? {};
  const arch =
    `${cfg.model_type} (${cfg.num_hidden_layers ?? cfg.n_layers ?? '?'} layers, hidden size ` +
    `${cfg.hidden_size ?? cfg.dim ?? '?'}), sequence classification`;
  const calibration = c.meta.temperature
    ? `temperature ${c.meta.temperature.toFixed(4)}`
    : c.meta.thresholds
      ? 'per-label thresholds'
      : 'none';
  const abstain = abstentionText(c.meta);
  const ood = c.meta.ood;
  const rows = [
    ['architecture', arch],
    ['problem type', String(cfg.problem_type ?? 'single_label_classification')],
    ['labels', `${labels.length}: ${labels.join(', ')}`],
    ['base model', t.base_model ? `\`${t.base_model}\`` : 'unknown'],
    ['version', `\`${c.identity.version}\``],
    ['sha256 (weights)', `\`${c.identity.sha256}\``],
    ...(c.meta.parent_sha256 ? [['parent sha256', `\`${c.meta.parent_sha256}\``]] : []),
    ['trained', `${t.finished_at ?? 'unknown'} with medtune`],
    ['calibration', calibration],
    ['abstention', abstain],
    [
      'out-of-scope detector',
      ood
        ? `Mahalanobis distance of the encoder's ${ood.features === 'mean' ? 'token-mean' : 'first-token'} features ` +
          `to the nearest class mean (${ood.classes} classes); threshold ${f4(ood.threshold)}, chosen to keep ` +
          `${pct(ood.keep)} of validation notes in scope`
        : 'none',
    ],
    ['text cleaning', c.meta.preprocessing ? `\`${JSON.stringify(c.meta.preprocessing)}\`` : 'none'],
  ];
  return `## Model details\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
}

const INTENDED = `## Intended use and users

Decision support: suggesting diagnosis classes for free-text symptom descriptions or clinical notes of the kind
it was trained on, for a clinician, clinical coder or researcher who reviews every suggestion. Also: a baseline
for research on the same label set. Every output is a suggestion with a probability; the model may abstain
("refer to a clinician").

## Out-of-scope uses

- Diagnosing, triaging or treating a patient without a clinician reviewing the output.
- Populations, care settings, note types, languages or label sets it was not trained and evaluated on (see the
  data below): they are not validated. The model only knows its labels; a patient with another condition still
  gets one of them.
- Any use as a medical device.
`;

function deidLine(c: CardInput): string {
  const deid = c.run?.run?.deid ?? obj(c.meta.training?.recipe).deid;
  return deid
    ? `PHI was replaced before tokenising (\`--deid\`, operator ${deid}).`
    : 'none was applied by medtune (`--deid` was not used); the data were used as they are.';
}

function dataSection(c: CardInput): string {
  const data = c.meta.training?.data ?? [];
  const run = c.run?.run;
  const files = data.map(
    (d) => `| ${d.split ?? ''} | \`${path.basename(d.file)}\` | ${d.rows ?? '–'} ` + `| \`${d.sha256}\` |`,
  );
  const balance = Object.entries(obj(obj(obj(run?.splits).train).classes))
    .map(([l, n]) => `${l} ${n}`)
    .join(', ');
  const split = String(c.run?.metrics?.split ?? run?.evaluated_split ?? '');
  const evaluation = split
    ? `The ${split} split (${c.run?.metrics?.n ?? '–'} rows; file and sha256 above).`
    : 'Not known: no metrics.json was found beside the model.';
  const optimistic =
    split === 'validation'
      ? '\nIt is the split the best checkpoint was chosen on, so the numbers are optimistic: evaluate on held-out ' +
        'data.\n'
      : '';
  return `## Training data
${run?.data_note ? `\n${String(run.data_note)}\n` : ''}
| split | file | rows | sha256 |
|---|---|---|---|
${files.join('\n') || '| – | – | – | – |'}

De-identification: ${deidLine(c)}
${balance ? `\nClass balance of the training split: ${balance}.\n` : ''}
## Evaluation data

${evaluation}
${optimistic}`;
}

function metricRows(c: CardInput): string[] {
  const keys = c.run!.multiLabel
    ? ['f1_micro', 'f1_macro', 'subset_accuracy']
    : ['accuracy', 'f1_macro', 'f1_weighted', 'roc_auc_ovr'];
  return (headlineOf(c.run!)?.metrics ?? [])
    .filter((x) => keys.includes(x.key))
    .map((x) => `| ${x.key} | ${f4(x.value)} | ${x.ci ? ci4(x.ci) : '–'} | ${f4(x.baseline)} |`);
}

function metricsSection(c: CardInput): string {
  const m = c.run?.metrics;
  if (!m) {
    return (
      '## Metrics\n\nNo evaluation results were found beside this model (no metrics.json in its run folder). ' +
      'Evaluate it with `medtune evaluate`.\n'
    );
  }
  type ClassRow = { label: string; f1: number; recall: number; support: number };
  const per = (m.per_class ?? m.per_label) as ClassRow[] | undefined;
  const worst = Array.isArray(per)
    ? [...per]
        .filter((r) => r.support > 0)
        .sort((x, y) => x.f1 - y.f1)
        .slice(0, 3)
    : [];
  const weak = worst.map((r) => `${r.label} ${r.f1.toFixed(3)} (recall ${r.recall.toFixed(3)}, ${r.support} rows)`);
  const source = c.run!.predictions ? 'from predictions.jsonl' : 'not available (no predictions.jsonl)';
  return `## Metrics

On the ${m.split} split (${m.n} rows). Intervals: 95 %, ${BOOTSTRAP_METHOD}, ${source}.
Baseline: TF-IDF + logistic regression on the same rows.

| metric | model | 95 % interval | baseline |
|---|---|---|---|
${metricRows(c).join('\n')}
${weak.length ? `\nWeakest classes (F1): ${weak.join('; ')}.\n` : ''}`;
}

function calibrationSection(c: CardInput): string {
  const m = obj(c.run?.metrics);
  const cal = obj(m.calibration);
  const sel = obj(m.selective);
  const cm = obj(m.calibration_metrics);
  const parts = [
    cal.ece_before !== undefined
      ? `Temperature scaling (T = ${f4(cal.temperature)}, fitted on ${cal.fitted_on}): ` +
        `ECE ${f4(cal.ece_before)} → ${f4(cal.ece_after)}, NLL ${f4(cal.nll_before)} → ${f4(cal.nll_after)} ` +
        `on ${cal.evaluated_on}.`
      : '',
    cal.f1_micro_tuned !== undefined
      ? `Per-label thresholds: micro-F1 ${f4(cal.f1_micro_at_0_5)} at 0.5, ` + `${f4(cal.f1_micro_tuned)} tuned.`
      : '',
    cal.ece_before === undefined && cm.ece !== undefined ? `ECE of the probabilities as used: ${f4(cm.ece)}.` : '',
    sel.aurc !== undefined
      ? `Selective classification: AURC ${f4(sel.aurc)}; accuracy at 80 % coverage ` +
        `${f4(obj(sel.accuracy_at_coverage)['0.8'])}.`
      : '',
    m.abstention ? `The model abstained on ${obj(m.abstention).abstained} rows of the evaluation split.` : '',
  ].filter(Boolean);
  return `## Calibration\n\n${parts.length ? parts.join('\n') : 'No calibration results were found.'}
A calibrated 0.9 means about 9 in 10 such notes were right on validation data, not a 90 % chance that this patient
has the disease.\n`;
}

function subgroupSection(c: CardInput): string {
  const a = c.audit;
  if (!a) {
    return (
      '## Subgroup results\n\nNo subgroup analysis was run (train or evaluate with `--audit-column`, ' +
      'or `medtune audit`): performance across sex, age, site or note type is **unknown**.\n'
    );
  }
  const rows = a.columns.flatMap((col) =>
    col.groups.map((g) => {
      const gap = g.gaps?.accuracy ? `${signed(g.gaps.accuracy.gap)} ${ci4(g.gaps.accuracy.ci)}` : '–';
      const flagged = Object.values(g.gaps ?? {}).some((x) => x.flagged);
      const status = !g.judged ? 'too small to judge' : flagged ? '**flagged**' : '';
      return `| ${col.column} | ${g.group} | ${g.n} | ${g.accuracy.toFixed(4)} | ${gap} | ${status} |`;
    }),
  );
  const flags = a.flagged.map(
    (f) => `${f.column} = ${f.group} does ${f.side} (${f.metric} ${signed(f.gap)}, interval ${ci4(f.ci)})`,
  );
  return `## Subgroup results

${flags.length ? `**Flagged:** ${flags.join('; ')}.` : 'No gap flagged.'} Gap: a group's accuracy minus that of all
other rows, with a bootstrap interval (${a.method.resamples} resamples, 95 % for all groups of a column together);
groups under ${a.method.min_group} rows are too small to judge.

| column | group | n | accuracy | gap to the rest [interval] | |
|---|---|---|---|---|---|
${rows.join('\n')}
`;
}

function limitationsSection(c: CardInput): string {
  const m = obj(c.run?.metrics);
  const b = obj(m.baseline);
  const truncated = Object.entries(obj(c.run?.run?.splits))
    .filter(([, s]) => Number(obj(s).truncated) > 0)
    .map(
      ([k, s]) =>
        `${obj(s).truncated} ${k} texts were longer than ${obj(s).max_length} tokens and were cut: ` +
        'the model never saw their ends.',
    );
  const items = [
    typeof m.n === 'number' && m.n < 1000
      ? `The evaluation set is small (${m.n} rows): the intervals above are wide, ` +
        'and rare failure modes go unseen.'
      : '',
    typeof m.accuracy === 'number' && typeof b.accuracy === 'number' && b.accuracy >= m.accuracy
      ? `The TF-IDF baseline (${f4(b.accuracy)}) is as good as or better than this model (${f4(m.accuracy)}).`
      : '',
    ...truncated,
    c.audit?.flagged.some((f) => f.side === 'worse')
      ? 'It does measurably worse for some groups (see Subgroup results).'
      : '',
    !c.audit ? 'Its performance across demographic groups, sites and note types was not measured.' : '',
    'It was evaluated on data from the same source as its training data; performance on other hospitals, note styles ' +
      'or time periods is unknown.',
    'It assigns one of its labels to every text, including texts about conditions it was never trained on.',
  ].filter(Boolean);
  return `## Limitations\n\n${items.map((x) => `- ${x}`).join('\n')}\n`;
}

const ETHICS = `## Ethical considerations

- Clinical text is sensitive. Check the de-identification status above before sharing this model: a model can
  memorise rare strings of its training data. The run report (\`report.html\`) quotes evaluation texts and is as
  sensitive as the data.
- Errors are not evenly spread: subgroup gaps may reflect how notes about a group are written, which classes the
  group has, or how few of its notes were in training. A group too small to judge is not a group for which the
  model is known to work.
- Suggestions can anchor a reader: present them as suggestions, with their probability, and never hide the
  abstentions.
`;

const VALIDATION = `## Clinical validation status

**Not validated** — a clinician must review every output. No prospective or clinical study has been done with this
model.
`;

function reproduceSection(c: CardInput): string {
  const run = c.run?.run;
  const cmd = Array.isArray(run?.command) ? (run!.command as string[]).join(' ') : null;
  const backend = run ? ` and the ${run.backend} backend with ${run.threads} threads` : '';
  return `## How to reproduce

${cmd ? `\`\`\`\n${cmd}\n\`\`\`\n` : 'The command line was not recorded (no run.json beside the model).\n'}
With the same data files (check their sha256 above), seed ${c.meta.training?.seed ?? run?.seed ?? '–'}, medtune
${run?.medtune_version ?? '0.1.0'}${backend}. The recipe is in \`config.json\` under \`medtune.training\`.
\`medtune card ${c.modelDir}\` rewrites this card.
`;
}

/** The card as Markdown with YAML front matter. */
export function renderCard(c: CardInput): string {
  const sections = [
    detailsSection(c),
    INTENDED,
    dataSection(c),
    metricsSection(c),
    calibrationSection(c),
    subgroupSection(c),
    limitationsSection(c),
    ETHICS,
    VALIDATION,
    reproduceSection(c),
  ];
  return (
    `---\n${toYaml(frontMatter(c))}---\n\n# Model card: ${cardName(c.modelDir)}\n\n> **${NOT_VALIDATED}**\n\n` +
    sections.join('\n')
  );
}

/** The license of the base model when its folder has a card (else "unknown"). */
function baseLicense(meta: MedtuneMetadata): string {
  const base = meta.training?.base_model;
  const readme = base ? path.join(base, 'README.md') : '';
  if (!readme || !existsSync(readme)) return 'unknown';
  const m = /^---\n[\s\S]*?^license:\s*"?([\w.-]+)"?\s*$[\s\S]*?^---/m.exec(readFileSync(readme, 'utf8'));
  return m?.[1] ?? 'unknown';
}

function readConfig(modelDir: string): { config: Json; meta: MedtuneMetadata } {
  const file = path.join(modelDir, 'config.json');
  if (!existsSync(file)) {
    throw new MedtuneError(
      `${modelDir} has no config.json; give a model folder (e.g. the best_model/ of a training ` + 'run)',
      'E_MODEL_NOT_FOUND',
    );
  }
  let config: Json;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new MedtuneError(`${file} is not valid JSON`, 'E_MODEL_WEIGHTS');
  }
  return { config, meta: parseMetadata(config.medtune, file) };
}

/** Writes MODEL_DIR/README.md; the run folder defaults to the model folder's parent when it holds metrics.json. */
export function writeModelCard(
  modelDir: string,
  o: { runDir?: string; license?: string } = {},
): { file: string; run: string | null } {
  const { config, meta } = readConfig(modelDir);
  const file = path.join(modelDir, 'README.md');
  prepareOutputFile(file, { option: 'model card' });
  const runDir = o.runDir ?? (existsSync(path.join(modelDir, '..', 'metrics.json')) ? path.join(modelDir, '..') : null);
  const run = runDir ? loadRunFolder(runDir) : null;
  const identity = modelIdentity(modelDir, meta);
  const evaluated = obj(obj(run?.metrics).model);
  if (evaluated.sha256 && evaluated.sha256 !== identity.sha256) {
    throw new MedtuneError(
      `the metrics in ${runDir} are of model version ${String(evaluated.version)}, ` +
        `not of ${modelDir} (version ${identity.version}); pass the run folder of this model with --run`,
      'E_USAGE',
    );
  }
  const audit = run ? auditOfFolder(run) : null;
  const license = o.license ?? baseLicense(meta);
  writeFileAtomic(file, renderCard({ modelDir, config, meta, identity, run, audit, license }));
  return { file, run: runDir };
}
