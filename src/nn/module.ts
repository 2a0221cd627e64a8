/**
 * Module: a tree of layers whose property names are the checkpoint keys (HF's naming), so that
 * namedParameters() yields exactly `bert.encoder.layer.0.attention.self.query.weight` and so on.
 */
import { Tensor, zeros, ones, parameter, empty } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { embedding, layerNorm, linear, dropout } from '../tensor/ops/index.js';
import type { Activation } from '../tensor/kernels.js';
import { int8TrainingError, linearInt8, type QuantizedWeight } from '../tensor/quantize.js';

export abstract class Module {
  /** Training mode enables dropout. */
  training = true;

  /** [checkpoint key, parameter] pairs in definition order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) {
      const name = prefix ? `${prefix}.${k}` : k;
      if (v instanceof Tensor) {
        if (v.requiresGrad) out.push([name, v]);
      } else if (v instanceof Module) {
        out.push(...v.namedParameters(name));
      } else if (Array.isArray(v)) {
        v.forEach((m, i) => {
          if (m instanceof Module) out.push(...m.namedParameters(`${name}.${i}`));
        });
      }
    }
    return out;
  }

  /** [path, module] for this module and every submodule. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, v] of Object.entries(this)) {
      const name = prefix ? `${prefix}.${k}` : k;
      if (v instanceof Module) out.push(...v.namedModules(name));
      else if (Array.isArray(v))
        v.forEach((m, i) => {
          if (m instanceof Module) out.push(...m.namedModules(`${name}.${i}`));
        });
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Number of trainable values. */
  numParameters(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  private children(): Module[] {
    const out: Module[] = [];
    for (const v of Object.values(this)) {
      if (v instanceof Module) out.push(v);
      else if (Array.isArray(v)) for (const m of v) if (m instanceof Module) out.push(m);
    }
    return out;
  }

  train(on = true): this {
    this.training = on;
    for (const c of this.children()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient (memory goes back to the pool). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees all parameter memory. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}

function normalParam(shape: number[], std: number, gen: Generator): Tensor {
  const t = empty(shape);
  gen.fillNormal(t.f32, std);
  return parameter(t);
}

/**
 * nn.Linear: weight [out, in], bias [out]; HF BERT init: normal(0, initializer_range), zero bias. With `int8` set
 * (models/quantize.ts: the weight quantized per channel and packed), forward runs the int8 kernels: inference only.
 */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  int8: QuantizedWeight | null = null;
  constructor(inFeatures: number, outFeatures: number, gen: Generator, std = 0.02, bias = true) {
    super();
    this.weight = normalParam([outFeatures, inFeatures], std, gen);
    this.bias = bias ? parameter(zeros([outFeatures])) : null;
  }
  forward(x: Tensor, activation: Activation = 'none'): Tensor {
    if (!this.int8) return linear(x, this.weight, this.bias, activation);
    if (this.training) throw int8TrainingError();
    return linearInt8(x, this.int8, this.weight, this.bias, activation);
  }
}

/** nn.Embedding: weight [num, dim]; normal(0, std), the padding row zeroed as HF does. */
export class Embedding extends Module {
  weight: Tensor;
  constructor(num: number, dim: number, gen: Generator, std = 0.02, paddingIdx: number | null = null) {
    super();
    this.weight = normalParam([num, dim], std, gen);
    if (paddingIdx !== null && paddingIdx >= 0 && paddingIdx < num)
      this.weight.f32.fill(0, paddingIdx * dim, (paddingIdx + 1) * dim);
  }
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight);
  }
}

/** nn.LayerNorm: weight ones, bias zeros. */
export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(
    dim: number,
    readonly eps: number,
  ) {
    super();
    this.weight = parameter(ones([dim]));
    this.bias = parameter(zeros([dim]));
  }
  forward(x: Tensor, residual?: Tensor | null): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps, residual);
  }
}

/** nn.Dropout with the model's generator. */
export class Dropout {
  constructor(
    readonly p: number,
    private gen: Generator,
  ) {}
  forward(x: Tensor, training: boolean): Tensor {
    return dropout(x, this.p, this.gen, training);
  }
}
