/**
 * Seeded random numbers. Generator drives parameter initialisation (normal via Box-Muller) and hands out dropout
 * keys; the same seed gives the same numbers on every backend and thread count.
 */
export class Generator {
  private state: number;
  constructor(readonly seed: number) {
    this.state = (seed >>> 0) ^ 0x5bd1e995;
  }

  /** Next uint32 (splitmix32). */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return (this.nextUint32() + this.nextUint32() / 4294967296) / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = this.uniform();
    while (u <= 1e-300) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  fillNormal(out: Float32Array, std: number, mean = 0): void {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
  }

  fillUniform(out: Float32Array, lo: number, hi: number): void {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
  }

  /** A key for one dropout call: its mask is hash(key, element index). */
  dropoutKey(): number {
    return this.nextUint32();
  }

  /** The state, for checkpoints. */
  getState(): number {
    return this.state;
  }
  setState(s: number): void {
    this.state = s >>> 0;
  }
}
