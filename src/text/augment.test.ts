// Augmentation safety: over 1,000 random augmentations of negated clinical sentences, by every operation, the
// negations (cue + scope) survive; numbers with units and doses survive unchanged; PHI tags and label words stay.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../tensor/random.js';
import {
  AUGMENT_OPS,
  augmentText,
  checkAugmentCount,
  markProtected,
  tokenize,
  type AugmentOp,
  type FillMask,
} from './augment.js';

const NEGATED = [
  'Patient denies chest pain, shortness of breath or palpitations but reports a mild cough for the past week.',
  'No fever, chills or night sweats. She has been feeling tired and her appetite is poor lately.',
  'The rash is itchy and spreading quickly; there is no blistering and no discharge from the lesions.',
  'He was not able to sleep because of the pain, although the swelling went down after rest.',
  'Without nausea or vomiting, the abdominal discomfort comes and goes after large meals.',
  'Pneumonia was ruled out on the chest radiograph and the patient was sent home with advice.',
  'She never had seizures before this episode and does not take any regular medication.',
  'Negative for blood in the stool; bowel habits have changed over the last few months though.',
  'I have a headache every morning, but I do not have any vision problems or weakness in my arms.',
  'There is no evidence of infection, and the wound edges look clean and dry today.',
  'My joints are stiff in the morning and I cannot bend my fingers easily, which worries me a lot.',
  'The child refused food for two days and has not passed urine since yesterday evening.',
];

const DOSES = [
  'Started metformin 500 mg twice daily and lisinopril 10 mg once daily for the new diagnosis.',
  'Temperature 38.5 °C, heart rate 112 bpm, blood pressure 150/95 mmHg on arrival this morning.',
  'Gave ibuprofen 400 mg every 6 hours as needed; 3 doses so far with some relief of the pain.',
  'Weight dropped from 82 kg to 76.5 kg over 3 months; HbA1c 8.2% last week at the clinic.',
  'Albuterol 2 puffs q4h prn and prednisone 40 mg daily x 5 days were prescribed by [NAME] on [DATE].',
];

/** An independent negation reader: each cue with the words after it to the clause end (punctuation, terminator). */
function negations(text: string): string[] {
  const cue = String.raw`\b(denies|no|not|without|never|cannot|refused|negative for|no evidence of)\b`;
  const end = String.raw`(?=[.;:!?]|\b(?:but|although|though|which|however|except)\b|$)`;
  const re = new RegExp(`${cue}[^.;:!?]*?${end}`, 'gi');
  return [...text.matchAll(re)].map((m) => m[0].trim());
}
/** Post-negation: the clause before "was ruled out". */
const ruledOut = (t: string) => [...t.matchAll(/[^.;:!?]*\bwas ruled out\b/gi)].map((m) => m[0].trim());
const quantities = (t: string) =>
  [...t.matchAll(/\d+(?:[.,/]\d+)*\s*(?:%|°C|mg|kg|bpm|mmHg|puffs|hours|days|months|doses)?/g)].map((m) => m[0]);

/** A masked-LM stand-in that proposes dangerous words first: negations, numbers, clinical terms. */
const adversarialFill: FillMask = (items) =>
  items.map(() => ['no', 'not', 'fever', '12', 'denies', 'pain', 'absent', 'gentle', 'quiet', 'recent']);

describe('augmentation protects clinical meaning', () => {
  it('marks negation scopes, numbers with units, doses, drugs, PHI tags and label words as protected', () => {
    const p = markProtected(
      tokenize('Denies fever but has a cough. Took metformin 500 mg bid per [NAME]; COPD noted, mild asthma.'),
      { label: 'Bronchial Asthma' },
    );
    const prot = p.filter((x) => x.kind === 'word' && x.protected).map((x) => x.text);
    assert.deepEqual(prot, ['Denies', 'fever', 'but', 'metformin', '500', 'mg', 'bid', '[NAME]', 'COPD', 'asthma']);
  });

  it('negations keep their cue and scope under every operation over 1,000 random augmentations', () => {
    const gen = new Generator(11);
    let n = 0;
    const changed = new Map<AugmentOp, number>();
    for (let round = 0; n < 1000; round++) {
      const op = AUGMENT_OPS[round % AUGMENT_OPS.length]!;
      const text = NEGATED[round % NEGATED.length]!;
      for (const a of augmentText(text, 2, gen, { ops: [op], alpha: 0.3, fillMask: adversarialFill })) {
        n++;
        changed.set(op, (changed.get(op) ?? 0) + 1);
        assert.notEqual(a.text, text);
        assert.deepEqual(negations(a.text), negations(text), `${op}: ${a.ops.join(' ')}`);
        assert.deepEqual(ruledOut(a.text), ruledOut(text), op);
      }
    }
    for (const op of AUGMENT_OPS)
      assert.ok((changed.get(op) ?? 0) > 100, `${op} produced ${changed.get(op) ?? 0} augmentations`);
  });

  it('numbers, units, doses, drug names and PHI tags survive unchanged and in order', () => {
    const gen = new Generator(5);
    for (let i = 0; i < 300; i++) {
      const text = DOSES[i % DOSES.length]!;
      for (const a of augmentText(text, 2, gen, { alpha: 0.3, fillMask: adversarialFill, ops: [...AUGMENT_OPS] })) {
        assert.deepEqual(quantities(a.text), quantities(text), a.ops.join(' '));
        for (const w of [
          'metformin',
          'lisinopril',
          'ibuprofen',
          'Albuterol',
          'prednisone',
          '[NAME]',
          '[DATE]',
          'q4h',
          'prn',
          'HbA1c',
          'daily',
          'twice',
          'once',
        ]) {
          assert.equal(a.text.split(w).length, text.split(w).length, `${w} in ${a.ops.join(' ')}`);
        }
      }
    }
  });

  it("the label's own words are never changed; EDA operations never introduce a negation", () => {
    const gen = new Generator(9);
    const text =
      'I have had a persistent cough with thick yellow phlegm and my chest feels tight when I breathe in the cold air.';
    for (let i = 0; i < 200; i++) {
      for (const a of augmentText(text, 1, gen, { label: 'Bronchial Asthma', alpha: 0.3 })) {
        assert.equal(negations(a.text).length, 0, a.text);
      }
    }
    const withLabel = 'Worsening psoriasis plaques on both elbows, the psoriatic skin is scaly and cracked.';
    for (let i = 0; i < 100; i++) {
      for (const a of augmentText(withLabel, 1, gen, { label: 'Psoriasis', alpha: 0.4 })) {
        assert.match(a.text, /psoriasis .*psoriatic/);
      }
    }
  });

  it('augmentation counts: 0 and absurd counts are clear errors', () => {
    assert.throws(() => checkAugmentCount(0), /at least 1; got 0/);
    assert.throws(() => checkAugmentCount(2.5), /whole number/);
    assert.throws(() => checkAugmentCount(1000), /too many/);
    assert.doesNotThrow(() => checkAugmentCount(2));
  });
});
