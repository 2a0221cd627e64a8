/**
 * The one training loop, HF Trainer's recipe, that fine-tuning (trainer.ts) and masked-LM pretraining (mlm-task.ts)
 * share: AdamW with HF's no-decay groups, a learning-rate schedule with warm-up, gradient accumulation, clipping,
 * evaluation every epoch (or N steps) with the best model kept by a metric (in memory, and in best_model/), early
 * stopping and a per-evaluation callback, checkpoint-N/ folders with optimizer moments and an exact resume, a progress
 * bar (or lines) and metrics.jsonl. What is trained comes from a task: the loss of a batch and the evaluation.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeDirs, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { scope, tensor, type Tensor } from '../tensor/tensor.js';
import { makeBatches } from '../data/dataset.js';
import type { LoadableModel } from '../models/families.js';
import { loadCheckpointWeights } from '../models/state-dict.js';
import { AdamW, hfParamGroups } from './adamw.js';
import { lrLambda } from './schedule.js';
import { readCheckpointState, readMoments, reconcileResume, writeCheckpoint } from './resume.js';
import type { EvaluationCallback, LoopConfig, TrainerState } from './config.js';
import { Progress } from './progress.js';

/** What a training loop trains: a model, the loss of a batch, and (optionally) an evaluation on held-out data. */
export interface TrainTask {
  model: LoadableModel;
  /** tokens per training example: batches are drawn from them (shuffled per epoch, bucketed by length) */
  lengths: number[];
  /** the loss of a batch of example indices in an epoch (inside a scope; the loop runs backward) */
  loss(batch: number[], epoch: number): Tensor;
  /**
   * instead of `loss`: forward and backward of a batch by the task itself (gradients scaled by `scale`), returning
   * the loss — documents in windows do two passes to keep memory bounded (models/document.ts)
   */
  backward?: (batch: number[], epoch: number, scale: number) => number;
  /** flat metrics on held-out data (null: there is none) */
  evaluate: (() => Record<string, number>) | null;
  /** how an evaluation reads in the log (after "eval @ step N (epoch E): ") */
  describeEval(metrics: Record<string, number>): string;
  /** the first log line, once the plan is known */
  describe(plan: { epochs: number; totalSteps: number }): string;
  /** what the divergence error tells the user to do */
  divergedHint: string;
  /** writes the model (HF layout) into a folder: checkpoints and best_model/ (none: no checkpoints) */
  saveModel?: (dir: string) => void;
}

const KILL_AT_STEP = Number(process.env.MEDTUNE_TEST_KILL_AT_STEP ?? 0);

/** Optimizer steps, epochs, the learning-rate multiplier per step and how often the training loss is recorded. */
function planOf(c: LoopConfig, examples: number) {
  const stepsPerEpoch = Math.ceil(Math.ceil(examples / c.batchSize) / c.gradAccum);
  const totalSteps = c.maxSteps > 0 ? c.maxSteps : stepsPerEpoch * c.epochs;
  const epochs = Math.ceil(totalSteps / stepsPerEpoch);
  const lr = lrLambda({ name: c.scheduler, totalSteps, warmup: c.warmup });
  return { totalSteps, epochs, lr, logEvery: c.logEvery > 0 ? c.logEvery : Math.max(1, Math.floor(totalSteps / 50)) };
}

export class TrainingLoop {
  readonly opt: AdamW;
  history: TrainerState['history'] = [];
  private best: { value: number; step: number } | null = null;
  private bestWeights: Float32Array[] | null = null;
  private badEvals = 0;
  stoppedEarly = false;
  /** the per-evaluation callback asked to stop */
  stoppedByCallback = false;
  /** epochs trained (fractional when stopped inside an epoch) */
  epochsRun = 0;

  constructor(
    readonly task: TrainTask,
    readonly cfg: LoopConfig,
    readonly log: (l: string) => void = (l) => console.log(l),
    readonly onEvaluate?: EvaluationCallback,
  ) {
    this.opt = new AdamW(hfParamGroups(task.model, cfg.weightDecay), { lr: cfg.learningRate });
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
  private score(m: Record<string, number>, key: string): number {
    const v = m[key];
    if (typeof v !== 'number')
      throw new MedtuneError(
        `--metric-for-best-model ${key} is not a metric here (${Object.keys(m)
          .filter((k) => typeof m[k] === 'number')
          .join(', ')})`,
        'E_USAGE',
      );
    return key === 'loss' ? -v : v;
  }

  private weights(): Float32Array[] {
    return this.task.model.parameters().map((p) => Float32Array.from(p.f32));
  }

  private setWeights(w: Float32Array[]): void {
    this.task.model.parameters().forEach((p, i) => p.f32.set(w[i]!));
  }

  /** Restores weights, optimizer moments and state from a checkpoint folder (checked: see resume.ts). */
  private restore(dir: string): TrainerState {
    const state = readCheckpointState(dir);
    reconcileResume(state, this.cfg, this.log);
    loadCheckpointWeights(this.task.model, dir);
    readMoments(dir, this.task.model, this.opt);
    this.opt.stepCount = state.optimizerSteps;
    this.task.model.generator.setState(state.generator);
    this.best = state.best ?? null;
    this.badEvals = state.badEvals ?? 0;
    this.history = state.history;
    this.trimLog(state.step);
    if (this.best) {
      const bestDir = path.join(this.cfg.outputDir, 'best_model');
      if (!existsSync(path.join(bestDir, 'model.safetensors'))) {
        throw new MedtuneError(
          `${bestDir} is missing but the checkpoint refers to it; resume is not possible, start a new run`,
          'E_CHECKPOINT',
        );
      }
      const current = this.weights();
      loadCheckpointWeights(this.task.model, bestDir);
      this.bestWeights = this.weights();
      this.setWeights(current);
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

  /** Evaluates, keeps the best model, decides on early stopping and asks the callback. */
  private async evaluateAt(step: number, epoch: number, progress: Progress): Promise<void> {
    const c = this.cfg;
    const metrics = this.task.evaluate!();
    this.history.push({ step, epoch, metrics });
    this.record({ type: 'eval', step, epoch, ...metrics });
    const key = c.metricForBestModel;
    const s = key ? this.score(metrics, key) : 0;
    const improved = !!key && (!this.best || s > this.best.value);
    if (improved) {
      this.best = { value: s, step };
      this.bestWeights = this.weights();
      this.badEvals = 0;
      this.task.saveModel?.(path.join(c.outputDir, 'best_model'));
    } else if (key) this.badEvals++;
    progress.clear();
    const what = this.task.describeEval(metrics);
    this.log(`  eval @ step ${step} (epoch ${epoch.toFixed(2)}): ${what}${improved ? ' (best)' : ''}`);
    if (key && c.earlyStoppingPatience > 0 && this.badEvals >= c.earlyStoppingPatience) {
      this.stoppedEarly = true;
      this.log(`  early stopping: no improvement in ${key} for ${this.badEvals} evaluations`);
    }
    const best = this.bestResult;
    const index = this.history.length;
    if (key && this.onEvaluate && best) {
      const stop = await this.onEvaluate({
        index,
        step,
        epoch,
        value: metrics[key]!,
        best: { value: best.value, index: best.index },
      });
      if (stop === true) {
        this.stoppedByCallback = true;
        this.log(`  stopped after evaluation ${index} (asked by the per-evaluation callback, e.g. a tuner's pruner)`);
      }
    }
  }

  /** One batch: forward, backward (scaled for accumulation); returns the loss. */
  private backward(batch: number[], epoch: number, step: number): number {
    const accum = this.cfg.gradAccum;
    const own = this.task.backward;
    const loss = own
      ? own(batch, epoch, 1 / accum)
      : scope(() => {
          const l = this.task.loss(batch, epoch);
          if (accum > 1) l.backward(tensor([1 / accum], []));
          else l.backward();
          return l.item();
        });
    if (!Number.isFinite(loss))
      throw new MedtuneError(`the loss became ${loss} at step ${step}; ${this.task.divergedHint}`, 'E_DIVERGED');
    return loss;
  }

  /**
   * Trains; with `resumeFrom` (a checkpoint folder) continues exactly where that run stopped. Yields to the event loop
   * after every optimizer step, so that Ctrl-C / SIGTERM handlers (which remove partial files) run promptly.
   */
  async run(resumeFrom?: string): Promise<void> {
    const c = this.cfg;
    const { model } = this.task;
    const { totalSteps, epochs, lr, logEvery } = planOf(c, this.task.lengths.length);
    model.train();
    let [step, startEpoch, skipBatches] = [0, 0, 0];
    if (resumeFrom) {
      const st = this.restore(resumeFrom);
      [step, startEpoch, skipBatches] = [st.step, st.epoch, st.batchInEpoch];
      this.log(`resumed from ${resumeFrom} at step ${step} (epoch ${startEpoch}, batch ${skipBatches})`);
    }
    let [seen, lossAcc, lossN] = [0, 0, 0];
    const t0 = performance.now();
    const progress = new Progress(totalSteps, this.log);
    this.log(this.task.describe({ epochs, totalSteps }));
    const stateAt = (epoch: number, batchInEpoch: number): TrainerState => ({
      step,
      epoch,
      batchInEpoch,
      optimizerSteps: this.opt.stepCount,
      generator: model.generator.getState(),
      best: this.best,
      badEvals: this.badEvals,
      history: this.history,
      config: (({ outputDir: _o, ...rest }) => rest)(c),
    });
    outer: for (let epoch = startEpoch; epoch < epochs; epoch++) {
      const batches = makeBatches(this.task.lengths, c.batchSize, {
        shuffle: true,
        seed: c.seed + epoch,
        bucket: c.bucket,
      });
      for (let b = epoch === startEpoch ? skipBatches : 0; b < batches.length; b++) {
        lossAcc += this.backward(batches[b]!, epoch, step);
        lossN++;
        seen += batches[b]!.length;
        const last = b === batches.length - 1;
        if ((b + 1) % c.gradAccum !== 0 && !last) continue;
        const rate = c.learningRate * lr(step);
        this.opt.step({ maxGradNorm: c.maxGradNorm, lr: rate });
        this.opt.zeroGrad();
        step++;
        const epochPos = epoch + (b + 1) / batches.length;
        const exs = seen / ((performance.now() - t0) / 1000);
        progress.update(
          step,
          `epoch ${epochPos.toFixed(2)} loss ${(lossAcc / lossN).toFixed(4)} lr ${rate.toExponential(2)} ` +
            `${exs.toFixed(1)} ex/s ETA ${(((totalSteps - step) * c.batchSize * c.gradAccum) / exs).toFixed(0)} s`,
        );
        if (step % logEvery === 0 || step === totalSteps) {
          this.record({ type: 'train', step, epoch: epochPos, loss: lossAcc / lossN, lr: rate, ex_per_s: exs });
          [lossAcc, lossN] = [0, 0];
        }
        this.epochsRun = epochPos;
        const due = c.evalEvery > 0 ? step % c.evalEvery === 0 : last;
        if (this.task.evaluate && (due || (c.evalAtEnd && step >= totalSteps)))
          await this.evaluateAt(step, epochPos, progress);
        const done = step >= totalSteps || this.stoppedEarly || this.stoppedByCallback;
        if (this.task.saveModel && c.checkpoints !== false)
          if ((c.saveSteps > 0 && step % c.saveSteps === 0) || (c.saveSteps === 0 && last) || done)
            this.saveCheckpoint(last ? stateAt(epoch + 1, 0) : stateAt(epoch, b + 1));
        if (done) break outer;
        // test hook: die like `kill -9` at this step (after any checkpoint of the previous steps)
        if (KILL_AT_STEP && step === KILL_AT_STEP) process.kill(process.pid, 'SIGKILL');
        await new Promise((res) => setImmediate(res));
      }
    }
    progress.clear();
    if (this.best && this.bestWeights) {
      this.setWeights(this.bestWeights);
      const r = this.bestResult!;
      this.log(`restored the best model (step ${r.step}, ${c.metricForBestModel} ${r.value.toFixed(4)})`);
    }
    model.eval();
  }

  /** Writes checkpoint-<step>/: model (HF layout), optimizer moments, trainer state. Atomic per file and folder. */
  private saveCheckpoint(state: TrainerState): void {
    const dir = path.join(this.cfg.outputDir, `checkpoint-${state.step}`);
    this.task.saveModel!(dir);
    writeCheckpoint({ dir, model: this.task.model, opt: this.opt, state, saveTotalLimit: this.cfg.saveTotalLimit });
  }
}
