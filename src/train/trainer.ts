/**
 * The Trainer: an explicit fine-tuning loop (HF Trainer's recipe): AdamW with no-decay groups, a learning-rate
 * schedule with warm-up, gradient accumulation, clipping, evaluation every epoch (or N steps), the best model
 * by a metric kept in memory and restored at the end, and metrics.jsonl with every logged step.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { makeDirs, writeFileAtomic } from '../common/atomic.js';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { scope, tensor, type Tensor } from '../tensor/tensor.js';
import { AdamW, hfParamGroups } from './adamw.js';
import { lrLambda } from './schedule.js';
import type { EvaluationCallback, TrainConfig, TrainerState } from './config.js';
import { makeBatches } from '../data/dataset.js';
import { checkMetricName } from '../evaluate/metrics.js';
import type { EvalResult, Metrics, SplitData } from '../evaluate/types.js';
import { batchTensors, labelTensor } from '../data/batch.js';
import { evaluateModel } from '../evaluate/evaluate.js';
import type { SequenceClassifier } from '../models/auto.js';
import { MedtuneError } from '../common/errors.js';
import { readCheckpointState, reconcileResume } from './resume.js';

export interface TrainerHooks {
  /** writes the model (HF layout) into a folder */
  saveModel: (dir: string) => void;
  /** loads weights saved by saveModel back into the model */
  loadWeights: (dir: string) => void;
  /** after every evaluation; true stops training (a tuner's pruner) */
  onEvaluate?: EvaluationCallback;
}

const { SingleBar, Presets } = cliProgress;
const KILL_AT_STEP = Number(process.env.MEDTUNE_TEST_KILL_AT_STEP ?? 0);

export type { EvalResult, Metrics, SplitData, TrainConfig, TrainerState };
export { DEFAULT_TRAIN_CONFIG } from './config.js';

export class Trainer {
  readonly opt: AdamW;
  history: { step: number; epoch: number; metrics: Metrics }[] = [];
  private best: { value: number; step: number } | null = null;
  private bestWeights: Float32Array[] | null = null;
  private badEvals = 0;
  stoppedEarly = false;
  /** the per-evaluation callback asked to stop */
  stoppedByCallback = false;
  /** epochs trained (fractional when stopped inside an epoch) */
  epochsRun = 0;

  constructor(
    readonly model: SequenceClassifier,
    readonly labels: string[],
    readonly multiLabel: boolean,
    readonly padId: number,
    readonly cfg: TrainConfig,
    readonly log: (l: string) => void = (l) => console.log(l),
    readonly hooks: TrainerHooks | null = null,
  ) {
    checkMetricName(cfg.metricForBestModel, multiLabel);
    this.opt = new AdamW(hfParamGroups(model, cfg.weightDecay), { lr: cfg.learningRate });
    makeDirs(cfg.outputDir);
  }

  private record(obj: Record<string, unknown>): void {
    appendFileSync(path.join(this.cfg.outputDir, 'metrics.jsonl'), JSON.stringify(obj) + '\n');
  }

  /** The best evaluation so far in the metric's own units, with its step and evaluation index. */
  get bestResult(): { value: number; step: number; index: number } | null {
    if (!this.best) return null;
    const value = this.cfg.metricForBestModel === 'loss' ? -this.best.value : this.best.value;
    return { value, step: this.best.step, index: this.history.findIndex((h) => h.step === this.best!.step) + 1 };
  }

  /** Metric value where larger is better. */
  private score(m: Metrics): number {
    const key = this.cfg.metricForBestModel;
    const v = (m as unknown as Record<string, number>)[key];
    if (typeof v !== 'number')
      throw new MedtuneError(
        `--metric-for-best-model ${key} is not a metric here (${Object.keys(m)
          .filter((k) => typeof (m as unknown as Record<string, unknown>)[k] === 'number')
          .join(', ')})`,
        'E_USAGE',
      );
    return key === 'loss' ? -v : v;
  }

  private lossOptions(): { classWeights?: Tensor | null; posWeight?: Tensor | null; labelSmoothing: number } {
    const w = this.cfg.classWeights;
    if (!w) return { labelSmoothing: this.cfg.labelSmoothing };
    return this.multiLabel
      ? { posWeight: tensor(w), labelSmoothing: 0 }
      : { classWeights: tensor(w), labelSmoothing: this.cfg.labelSmoothing };
  }

  evaluate(data: SplitData, batchSize = this.cfg.batchSize * 2): EvalResult {
    return evaluateModel(this.model, data, {
      labels: this.labels,
      multiLabel: this.multiLabel,
      padId: this.padId,
      batchSize,
      threshold: this.cfg.threshold,
      lossOptions: this.lossOptions(),
    });
  }

  /** Writes checkpoint-<step>/: model (HF layout), optimizer moments, trainer state. Atomic per file and folder. */
  private saveCheckpoint(state: TrainerState): void {
    if (!this.hooks || this.cfg.checkpoints === false) return;
    const dir = path.join(this.cfg.outputDir, `checkpoint-${state.step}`);
    this.hooks.saveModel(dir);
    writeCheckpoint({ dir, model: this.model, opt: this.opt, state, saveTotalLimit: this.cfg.saveTotalLimit });
  }

  /** Restores weights, optimizer moments and state from a checkpoint folder (checked: see resume.ts). */
  private restore(dir: string): TrainerState {
    const state = readCheckpointState(dir);
    reconcileResume(state, this.cfg, this.log);
    this.hooks!.loadWeights(dir);
    readMoments(dir, this.model, this.opt);
    this.opt.stepCount = state.optimizerSteps;
    this.model.generator.setState(state.generator);
    this.best = state.best;
    this.badEvals = state.badEvals;
    this.history = state.history as unknown as typeof this.history;
    this.trimLog(state.step);
    if (this.best) {
      const bestDir = path.join(this.cfg.outputDir, 'best_model');
      if (!existsSync(path.join(bestDir, 'model.safetensors'))) {
        throw new MedtuneError(
          `${bestDir} is missing but the checkpoint refers to it; resume is not possible, start a new run`,
          'E_CHECKPOINT',
        );
      }
      const current = this.model.parameters().map((p) => Float32Array.from(p.f32));
      this.hooks!.loadWeights(bestDir);
      this.bestWeights = this.model.parameters().map((p) => Float32Array.from(p.f32));
      this.model.parameters().forEach((p, i) => p.f32.set(current[i]!));
    }
    return state;
  }

  /** metrics.jsonl keeps only the records up to the resumed step (a killed run may have logged beyond it). */
  private trimLog(step: number): void {
    const file = path.join(this.cfg.outputDir, 'metrics.jsonl');
    if (!existsSync(file)) return;
    const keep = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => {
        if (!l.trim()) return false;
        try {
          return (JSON.parse(l) as { step?: number }).step! <= step;
        } catch {
          return false;
        }
      });
    writeFileAtomic(file, keep.map((l) => l + '\n').join(''));
  }

  /**
   * Trains; with `resumeFrom` (a checkpoint folder) continues exactly where that run stopped. Yields to the event loop
   * after every optimizer step, so that Ctrl-C / SIGTERM handlers (which remove partial files) run promptly.
   */
  async train(train: SplitData, validation: SplitData | null, resumeFrom?: string): Promise<void> {
    const c = this.cfg;
    const batchesPerEpoch = Math.ceil(train.examples.length / c.batchSize);
    const stepsPerEpoch = Math.ceil(batchesPerEpoch / c.gradAccum);
    const totalSteps = c.maxSteps > 0 ? c.maxSteps : stepsPerEpoch * c.epochs;
    const epochs = Math.ceil(totalSteps / stepsPerEpoch);
    const lr = lrLambda({ name: c.scheduler, totalSteps, warmup: c.warmup });
    const C = this.labels.length;
    this.model.train();
    let step = 0;
    let startEpoch = 0;
    let skipBatches = 0;
    if (resumeFrom) {
      const st = this.restore(resumeFrom);
      step = st.step;
      startEpoch = st.epoch;
      skipBatches = st.batchInEpoch;
      this.log(`resumed from ${resumeFrom} at step ${step} (epoch ${startEpoch}, batch ${skipBatches})`);
    }
    let seen = 0;
    const t0 = performance.now();
    let lossAcc = 0;
    let lossN = 0;
    const progress = new Progress(totalSteps, this.log);
    this.log(
      `training: ${train.examples.length} examples, ${epochs} epochs, ${totalSteps} optimizer steps ` +
        `(batch ${c.batchSize}${c.gradAccum > 1 ? ` x ${c.gradAccum} accumulation` : ''}), ` +
        `lr ${c.learningRate} ${c.scheduler}${c.classWeights ? ', class weights' : ''}`,
    );
    const stateAt = (epoch: number, batchInEpoch: number): TrainerState => ({
      step,
      epoch,
      batchInEpoch,
      optimizerSteps: this.opt.stepCount,
      generator: this.model.generator.getState(),
      best: this.best,
      badEvals: this.badEvals,
      history: this.history as unknown as TrainerState['history'],
      config: (({ outputDir: _o, ...rest }) => rest)(c),
    });
    const evaluateNow = async (epoch: number) => {
      if (!validation) return;
      const r = this.evaluate(validation);
      const { per_class: _p, per_label: _q, confusion: _c, ...flat } = r.metrics as unknown as Record<string, unknown>;
      this.history.push({ step, epoch, metrics: flat as unknown as Metrics });
      this.record({ type: 'eval', step, epoch, ...flat });
      const s = this.score(r.metrics);
      const improved = !this.best || s > this.best.value;
      if (improved) {
        this.best = { value: s, step };
        this.bestWeights = this.model.parameters().map((p) => Float32Array.from(p.f32));
        this.badEvals = 0;
        this.hooks?.saveModel(path.join(c.outputDir, 'best_model'));
      } else this.badEvals++;
      progress.clear();
      this.log(
        `  eval @ step ${step} (epoch ${epoch.toFixed(2)}): loss ${r.metrics.loss.toFixed(4)}, ` +
          `${c.metricForBestModel} ${(flat[c.metricForBestModel] as number).toFixed(4)}${improved ? ' (best)' : ''}`,
      );
      if (c.earlyStoppingPatience > 0 && this.badEvals >= c.earlyStoppingPatience) {
        this.stoppedEarly = true;
        this.log(`  early stopping: no improvement in ${c.metricForBestModel} for ${this.badEvals} evaluations`);
      }
      const cb = this.hooks?.onEvaluate;
      const best = this.bestResult;
      if (
        cb &&
        best &&
        (await cb({
          index: this.history.length,
          step,
          epoch,
          value: flat[c.metricForBestModel] as number,
          best: { value: best.value, index: best.index },
        })) === true
      ) {
        this.stoppedByCallback = true;
        this.log(
          `  stopped after evaluation ${this.history.length} ` +
            "(asked by the per-evaluation callback, e.g. a tuner's pruner)",
        );
      }
    };
    outer: for (let epoch = startEpoch; epoch < epochs; epoch++) {
      const batches = makeBatches(
        train.enc.ids.map((x) => x.length),
        c.batchSize,
        { shuffle: true, seed: c.seed + epoch, bucket: c.bucket },
      );
      for (let b = epoch === startEpoch ? skipBatches : 0; b < batches.length; b++) {
        const idx = batches[b]!;
        const loss = scope(() => {
          const out = this.model.forward(
            {
              ...batchTensors(train.enc, idx, this.padId),
              labels: labelTensor(train.examples, idx, this.multiLabel, C),
            },
            this.lossOptions(),
          );
          const l = out.loss!;
          if (c.gradAccum > 1) l.backward(tensor([1 / c.gradAccum], []));
          else l.backward();
          return l.item();
        });
        if (!Number.isFinite(loss))
          throw new MedtuneError(
            `the loss became ${loss} at step ${step}; lower --learning-rate or check the labels`,
            'E_DIVERGED',
          );
        lossAcc += loss;
        lossN++;
        seen += idx.length;
        const last = b === batches.length - 1;
        if ((b + 1) % c.gradAccum !== 0 && !last) continue;
        const rate = c.learningRate * lr(step);
        this.opt.step({ maxGradNorm: c.maxGradNorm, lr: rate });
        this.opt.zeroGrad();
        step++;
        const epochPos = epoch + (b + 1) / batches.length;
        const secs = (performance.now() - t0) / 1000;
        const exs = seen / secs;
        progress.update(
          step,
          `epoch ${epochPos.toFixed(2)} loss ${(lossAcc / lossN).toFixed(4)} lr ${rate.toExponential(2)} ` +
            `${exs.toFixed(1)} ex/s ETA ${(((totalSteps - step) * c.batchSize * c.gradAccum) / exs).toFixed(0)} s`,
        );
        if (step % c.logEvery === 0 || step === totalSteps) {
          this.record({ type: 'train', step, epoch: epochPos, loss: lossAcc / lossN, lr: rate, ex_per_s: exs });
          lossAcc = 0;
          lossN = 0;
        }
        this.epochsRun = epochPos;
        if (c.evalEvery > 0 && step % c.evalEvery === 0) await evaluateNow(epochPos);
        const endOfEpoch = last;
        if (endOfEpoch && c.evalEvery === 0) await evaluateNow(epoch + 1);
        const done = step >= totalSteps || this.stoppedEarly || this.stoppedByCallback;
        if ((c.saveSteps > 0 && step % c.saveSteps === 0) || (c.saveSteps === 0 && endOfEpoch) || done) {
          this.saveCheckpoint(last ? stateAt(epoch + 1, 0) : stateAt(epoch, b + 1));
        }
        if (done) break outer;
        // test hook: die like `kill -9` at this step (after any checkpoint of the previous steps)
        if (KILL_AT_STEP && step === KILL_AT_STEP) process.kill(process.pid, 'SIGKILL');
        await new Promise((res) => setImmediate(res));
      }
    }
    progress.clear();
    if (this.best && this.bestWeights) {
      this.model.parameters().forEach((p, i) => p.f32.set(this.bestWeights![i]!));
      this.log(
        `restored the best model (step ${this.best.step}, ${c.metricForBestModel} ` +
          `${(c.metricForBestModel === 'loss' ? -this.best.value : this.best.value).toFixed(4)})`,
      );
    }
    this.model.eval();
  }
}

type Parameters = { namedParameters(): [string, Tensor][] };

/**
 * Completes a checkpoint folder whose weights the caller has written: the optimizer moments (optimizer.safetensors)
 * and the trainer state; then removes the oldest checkpoints of the run beyond `saveTotalLimit` (0 keeps all).
 * Used by fine-tuning and by masked-LM pretraining.
 */
export function writeCheckpoint(o: {
  dir: string;
  model: Parameters;
  opt: AdamW;
  state: object;
  saveTotalLimit: number;
}): void {
  const moments: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, p] of o.model.namedParameters()) {
    const st = o.opt.state.get(p)!;
    moments.push([`m.${name}`, { shape: p.shape, data: st.m.f32 }], [`v.${name}`, { shape: p.shape, data: st.v.f32 }]);
  }
  writeFileAtomic(path.join(o.dir, 'optimizer.safetensors'), serializeSafetensors(moments));
  writeFileAtomic(path.join(o.dir, 'trainer_state.json'), JSON.stringify(o.state, null, 1) + '\n');
  const all = listCheckpoints(path.dirname(o.dir));
  if (o.saveTotalLimit > 0)
    for (const old of all.slice(0, Math.max(0, all.length - o.saveTotalLimit)))
      rmSync(old.dir, { recursive: true, force: true });
}

/** Loads a checkpoint's optimizer moments into `opt`; E_CHECKPOINT when they do not fit the model. */
export function readMoments(dir: string, model: Parameters, opt: AdamW): void {
  const moments = readSafetensors(path.join(dir, 'optimizer.safetensors'));
  for (const [name, p] of model.namedParameters()) {
    const st = opt.state.get(p)!;
    const m = moments.get(`m.${name}`);
    const v = moments.get(`v.${name}`);
    if (!m || !v || m.data.length !== st.m.f32.length || v.data.length !== st.v.f32.length) {
      throw new MedtuneError(
        `${dir}/optimizer.safetensors does not fit this model (${name}); is it a checkpoint of this run?`,
        'E_CHECKPOINT',
      );
    }
    st.m.f32.set(m.data);
    st.v.f32.set(v.data);
  }
}

/** Checkpoint folders of a run, oldest first. */
export function listCheckpoints(outputDir: string): { dir: string; step: number }[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m && existsSync(path.join(outputDir, m[0], 'trainer_state.json')))
    .map((m) => ({ dir: path.join(outputDir, m[0]), step: Number(m[1]) }))
    .sort((a, b) => a.step - b.step);
}

/** A progress bar (cli-progress) on a terminal; plain log lines every few steps otherwise. */
class Progress {
  private bar: { update: (n: number, p: Record<string, string>) => void; stop: () => void } | null = null;
  private lastLine = 0;
  constructor(
    private total: number,
    private log: (l: string) => void,
  ) {
    if (process.stderr.isTTY && !process.env.CI) {
      this.bar = new SingleBar(
        {
          format: '  {bar} {value}/{total} steps | {info}',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        Presets.shades_classic,
      );
      (this.bar as unknown as { start: (t: number, v: number, p: Record<string, string>) => void }).start(total, 0, {
        info: '',
      });
    }
  }
  update(step: number, info: string): void {
    if (this.bar) this.bar.update(step, { info });
    else if (step - this.lastLine >= Math.max(1, Math.floor(this.total / 50)) || step === this.total) {
      this.lastLine = step;
      this.log(`  step ${step}/${this.total}  ${info}`);
    }
  }
  clear(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}
