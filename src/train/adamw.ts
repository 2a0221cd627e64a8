/**
 * AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias correction), with parameter groups and global
 * gradient-norm clipping fused into the update (the clip factor is passed to the kernel as a gradient scale, so
 * clipping costs one read of the gradients instead of a read and a write).
 */
import { Tensor, zeros } from '../tensor/tensor.js';
import { kernels } from '../tensor/backend.js';
import { MedtuneError } from '../common/errors.js';
import { LayerNorm, type Module } from '../nn/module.js';

export interface ParamGroup {
  params: Tensor[];
  weightDecay: number;
  /** optional per-group learning-rate multiplier */
  lrScale?: number;
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  stepCount = 0;
  readonly state = new Map<Tensor, { m: Tensor; v: Tensor }>();

  constructor(
    readonly groups: ParamGroup[],
    opts: AdamWOptions,
  ) {
    this.lr = opts.lr;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    if (!(this.lr >= 0)) throw new MedtuneError(`AdamW: learning rate must be ≥ 0, got ${this.lr}`, 'E_USAGE');
    for (const g of groups)
      for (const p of g.params) {
        this.state.set(p, { m: zeros(p.shape).keep(), v: zeros(p.shape).keep() });
      }
  }

  params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** The global L2 norm of all gradients (missing gradients count as zero). */
  gradNorm(): number {
    let s = 0;
    for (const p of this.params()) if (p.grad) s += kernels().sumSquares(p.grad.f32);
    return Math.sqrt(s);
  }

  /**
   * One update. With maxGradNorm, gradients are scaled by min(1, maxGradNorm / (norm + 1e-6)) first, as
   * torch.nn.utils.clip_grad_norm_ does. Returns the gradient norm before clipping (NaN if not computed).
   */
  step(opts: { maxGradNorm?: number; lr?: number } = {}): number {
    if (opts.lr !== undefined) this.lr = opts.lr;
    let norm = NaN;
    let gradScale = 1;
    if (opts.maxGradNorm !== undefined && opts.maxGradNorm > 0) {
      norm = this.gradNorm();
      const coef = opts.maxGradNorm / (norm + 1e-6);
      if (coef < 1) gradScale = coef;
    }
    this.stepCount++;
    const bc1 = 1 - Math.pow(this.beta1, this.stepCount);
    const bc2 = 1 - Math.pow(this.beta2, this.stepCount);
    const K = kernels();
    const { beta1, beta2, eps } = this;
    for (const g of this.groups) {
      const lr = this.lr * (g.lrScale ?? 1);
      for (const p of g.params) {
        if (!p.grad) continue; // like PyTorch: parameters without gradients are not updated
        const st = this.state.get(p)!;
        K.adamw({
          param: p.f32,
          grad: p.grad.f32,
          m: st.m.f32,
          v: st.v.f32,
          lr,
          beta1,
          beta2,
          eps,
          bc1,
          bc2,
          gradScale,
          weightDecay: g.weightDecay,
        });
      }
    }
    return norm;
  }

  zeroGrad(): void {
    for (const p of this.params()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const s of this.state.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.state.clear();
  }
}

/**
 * HF Trainer's parameter groups: weight decay on everything except biases and the parameters of LayerNorm
 * modules (found by module type, as HF does, so DistilBERT's sa_layer_norm counts too).
 */
export function hfParamGroups(model: Module, weightDecay: number): ParamGroup[] {
  const norms = new Set<Tensor>();
  for (const [, m] of model.namedModules()) if (m instanceof LayerNorm) for (const p of m.parameters()) norms.add(p);
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const [name, p] of model.namedParameters()) {
    if (name.endsWith('bias') || norms.has(p)) noDecay.push(p);
    else decay.push(p);
  }
  return [
    { params: decay, weightDecay },
    { params: noDecay, weightDecay: 0 },
  ];
}

/** torch.nn.utils.clip_grad_norm_: scales gradients in place, returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let s = 0;
  for (const p of params) if (p.grad) s += kernels().sumSquares(p.grad.f32);
  const norm = Math.sqrt(s);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const p of params) if (p.grad) kernels().scale(p.grad.f32, coef, p.grad.f32);
  return norm;
}
