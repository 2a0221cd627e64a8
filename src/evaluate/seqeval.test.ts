// Entity-level metrics with seqeval's semantics: exact span and type, micro-averaged, per type, token accuracy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { entityMetrics, entityMisses } from './seqeval.js';
import { decodeIob2, entitiesOf } from '../data/tags.js';

const pair = (gold: string[], pred: string[]) => ({
  gold: entitiesOf(gold, 'IOB2', String),
  predicted: decodeIob2(pred),
  goldTags: gold,
  predictedTags: pred,
});

describe('seqeval metrics', () => {
  it("matches seqeval's classification_report on its README example", () => {
    // seqeval README: y_true [['O','O','O','B-MISC','I-MISC','I-MISC','O'], ['B-PER','I-PER','O']],
    // y_pred [['O','O','B-MISC','I-MISC','I-MISC','I-MISC','O'], ['B-PER','I-PER','O']]: MISC 0/1, PER 1/1
    const m = entityMetrics([
      pair(['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O']),
      pair(['B-PER', 'I-PER', 'O'], ['B-PER', 'I-PER', 'O']),
    ]);
    assert.equal(m.entity_precision, 0.5);
    assert.equal(m.entity_recall, 0.5);
    assert.equal(m.entity_f1, 0.5);
    assert.deepEqual(
      m.per_type.map((t) => [t.type, t.f1, t.support]),
      [
        ['MISC', 0, 1],
        ['PER', 1, 1],
      ],
    );
    assert.equal(m.token_accuracy, 8 / 10); // seqeval accuracy_score
  });

  it('lists misses (missed and spurious) by example', () => {
    const p = pair(['B-D', 'I-D', 'O'], ['B-D', 'O', 'B-D']);
    assert.deepEqual(
      entityMisses([p]).map((x) => [x.kind, x.entity.start, x.entity.end]),
      [
        ['missed', 0, 2],
        ['spurious', 0, 1],
        ['spurious', 2, 3],
      ],
    );
  });
});
