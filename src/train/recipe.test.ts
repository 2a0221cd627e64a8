// The automatic recipe: max length from the token lengths, learning rate and warm-up by model size, epochs by data
// size; explicit options win; --recipe hf keeps HF's defaults.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { autoLearningRate, chooseDocument, chooseRecipe, HF_RECIPE, MULTI_LABEL_MIN_EPOCHS } from './recipe.js';

const lengths = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('automatic recipe', () => {
  it('covers 95% of the texts, says how many are still cut, and stays under the model limit', () => {
    const r = chooseRecipe({
      hidden: 256,
      layers: 4,
      modelLimit: 512,
      lengths: lengths(100, (i) => i + 1),
      source: 'auto',
      given: {},
    });
    assert.equal(r.values.maxLength, 96); // p95 = 95 → next multiple of 16
    assert.equal(r.cut, 4);
    assert.match(r.reason, /4 of 100 training texts are still cut at 96 tokens/);
    const long = chooseRecipe({
      hidden: 768,
      layers: 12,
      modelLimit: 512,
      lengths: lengths(50, () => 900),
      source: 'auto',
      given: {},
    });
    assert.equal(long.values.maxLength, 512);
  });

  it('small models get a larger rate; epochs shrink as data grows; explicit values win', () => {
    assert.equal(autoLearningRate(768), 5e-5);
    assert.equal(autoLearningRate(256), 2e-4);
    const small = chooseRecipe({
      hidden: 256,
      layers: 4,
      modelLimit: 512,
      lengths: lengths(800, () => 40),
      source: 'auto',
      given: {},
    });
    const big = chooseRecipe({
      hidden: 256,
      layers: 4,
      modelLimit: 512,
      lengths: lengths(20000, () => 40),
      source: 'auto',
      given: {},
    });
    assert.equal(small.values.epochs, 20);
    assert.equal(big.values.epochs, 3);
    const bigMulti = chooseRecipe({
      hidden: 256,
      layers: 4,
      modelLimit: 512,
      lengths: lengths(20000, () => 40),
      multiLabel: true,
      source: 'auto',
      given: {},
    });
    assert.equal(bigMulti.values.epochs, MULTI_LABEL_MIN_EPOCHS, 'multi-label data trains at least 6 epochs');
    assert.match(bigMulti.reason, /6 to 20 epochs \(multi-label heads learn rare labels late\)/);
    const given = chooseRecipe({
      hidden: 256,
      layers: 4,
      modelLimit: 512,
      lengths: lengths(800, () => 40),
      source: 'auto',
      given: { learningRate: 1e-3, epochs: 2 },
    });
    assert.deepEqual([given.values.learningRate, given.values.epochs], [1e-3, 2]);
    assert.match(given.reason, /learning rate 0\.001 \(given\)/);
    assert.deepEqual(given.explicit.sort(), ['epochs', 'learningRate']);
  });

  it('--recipe hf keeps HF Trainer defaults', () => {
    const r = chooseRecipe({
      hidden: 256,
      layers: 4,
      modelLimit: 512,
      lengths: lengths(800, () => 300),
      source: 'hf',
      given: {},
    });
    assert.deepEqual(r.values, HF_RECIPE);
    assert.match(r.reason, /^recipe hf/);
  });
});

describe('the recipe reads long texts in windows', () => {
  const specials = { head: 1, tail: 1 };
  const base = { modelLimit: 512, source: 'auto' as const, parent: null, specials };
  it('turns windows on when training texts are longer than the model, saying p50/p95; short texts as before', () => {
    const lengths = [300, 900, 1200, 2000, 400];
    const d = chooseDocument({ ...base, lengths, o: {} });
    assert.deepEqual(d.document, { window: 512, stride: 127, pooling: 'attention', max_document_tokens: 16384 });
    assert.match(d.reason!, /3 of 5 training texts are longer than the model's window of 512 tokens/);
    assert.match(d.reason!, /p50 900, p95 2000/);
    assert.equal(chooseDocument({ ...base, lengths: [100, 500], o: {} }).document, null);
    // an explicit --max-length below the texts cuts them, as before; --pooling none always cuts
    assert.equal(chooseDocument({ ...base, lengths: [100, 500], o: { maxLength: 64 } }).document, null);
    assert.equal(chooseDocument({ ...base, lengths, o: { pooling: 'none' } }).document, null);
    assert.equal(chooseDocument({ ...base, source: 'hf', lengths, o: {} }).document, null);
    // asked for: windows of --max-length
    const asked = chooseDocument({ ...base, lengths: [100], o: { pooling: 'max', maxLength: 128, stride: 10 } });
    assert.deepEqual(asked.document, { window: 128, stride: 10, pooling: 'max', max_document_tokens: 16384 });
  });
});
