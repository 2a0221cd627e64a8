/** Turning tokenised examples into padded model inputs and label tensors. */
import { tensor, type Tensor } from '../tensor/tensor.js';
import type { Encoded, Example } from './dataset.js';

export function batchTensors(enc: Encoded, idx: number[], padId: number) {
  const T = Math.max(...idx.map((i) => enc.ids[i]!.length));
  const ids: number[] = [];
  const mask: number[] = [];
  const types: number[] = [];
  for (const i of idx) {
    const row = enc.ids[i]!;
    for (let t = 0; t < T; t++) {
      ids.push(t < row.length ? row[t]! : padId);
      mask.push(t < row.length ? 1 : 0);
      types.push(t < row.length ? enc.types[i]![t]! : 0);
    }
  }
  const B = idx.length;
  return {
    input_ids: tensor(ids, [B, T], 'int32'),
    attention_mask: tensor(mask, [B, T], 'int32'),
    token_type_ids: tensor(types, [B, T], 'int32'),
  };
}

export function labelTensor(examples: Example[], idx: number[], multi: boolean, C: number): Tensor {
  return multi
    ? tensor(
        idx.flatMap((i) => examples[i]!.label as number[]),
        [idx.length, C],
      )
    : tensor(
        idx.map((i) => examples[i]!.label as number),
        [idx.length],
        'int32',
      );
}
