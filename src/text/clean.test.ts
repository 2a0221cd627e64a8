// Cleaning (Unicode, controls, whitespace, line breaks, de-hyphenation) and spelling correction against a lexicon.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyPreprocessing, cleanText, DEFAULT_CLEAN, parseCleanSteps, preprocessingProblem } from './clean.js';
import { editDistance, Lexicon, modelVocabWords, readLexiconFile, SpellCorrector } from './spell.js';
import { fixturePath } from '../testing-fixtures.js';

describe('cleanText', () => {
  it('normalises Unicode, removes control and zero-width characters, repairs whitespace', () => {
    assert.equal(
      cleanText('ﬁbrosis\u00A0noted\u200B  in\tthe  ｌｕｎｇ\u0007 base '),
      'fibrosis noted in the lung base',
    );
    assert.equal(cleanText('BP 120/80\r\nHR 88\r\n'), 'BP 120/80\nHR 88');
  });

  it('joins hard-wrapped lines and words hyphenated at a line break; keeps lists, paragraphs, real hyphens', () => {
    assert.equal(
      cleanText('Patient reports worsening short-\nness of breath and hyper-\ntension\nsince last week.'),
      'Patient reports worsening shortness of breath and hypertension since last week.',
    );
    assert.equal(cleanText('on long-\nterm anticoagulation.'), 'on long-term anticoagulation.');
    assert.equal(
      cleanText('Plan:\n- metformin 500 mg\n- recheck A1c\n\n\n\nSigned.'),
      'Plan:\n- metformin 500 mg\n- recheck A1c\n\nSigned.',
    );
  });

  it('is idempotent; stop-word removal keeps negations; options come from --clean lists', () => {
    const t = ' Denies  chest-\npain,\u00A0no  fever. ';
    assert.equal(cleanText(cleanText(t)), cleanText(t));
    assert.equal(
      cleanText('The patient has no fever and is not in pain', { stopwords: true }),
      'patient no fever not pain',
    );
    assert.deepEqual(parseCleanSteps(true), DEFAULT_CLEAN);
    assert.deepEqual(parseCleanSteps('default,lowercase'), { ...DEFAULT_CLEAN, lowercase: true });
    assert.throws(() => parseCleanSteps('unicode,typo'), /unknown step "typo"/);
    assert.equal(
      preprocessingProblem({ clean: { unicode: 'yes' } }),
      'preprocessing.clean.unicode must be true or false',
    );
    assert.equal(preprocessingProblem({ clean: DEFAULT_CLEAN }), null);
    assert.deepEqual(applyPreprocessing(['a\u00A0 b', 'c'], { clean: DEFAULT_CLEAN }), ['a b', 'c']);
    assert.deepEqual(applyPreprocessing(['a\u00A0 b'], {}), ['a\u00A0 b']);
  });
});

const CORPUS = [
  'Patient with diabetes and hypertension presents with fever, cough and abdominal pain.',
  'History of pneumonia; reports nausea, vomiting and diarrhea for three days.',
  'Chronic headache with dizziness, fatigue and shortness of breath on exertion.',
  'Denies chest pain or palpitations; swelling of both ankles noted.',
  'The rash is itchy and spreading; no fever, no joint stiffness.',
];

describe('spelling correction', () => {
  const lex = new Lexicon({ corpus: Array.from({ length: 4 }, () => CORPUS).flat() });
  const spell = new SpellCorrector(lex);

  it('edit distance counts a transposition as one edit', () => {
    assert.equal(editDistance('fever', 'fveer'), 1);
    assert.equal(editDistance('diabetes', 'diabtees'), 1);
    assert.equal(editDistance('nausea', 'nausia'), 1);
    assert.equal(editDistance('abc', 'xyzabc', 2), 3);
  });

  it('fixes made-up misspellings of lexicon words and reports every change', () => {
    const pairs: [string, string][] = [
      ['diabtes', 'diabetes'],
      ['hypertenshun', 'hypertension'],
      ['feverr', 'fever'],
      ['abdominl', 'abdominal'],
      ['pnuemonia', 'pneumonia'],
      ['nausia', 'nausea'],
      ['vomitting', 'vomiting'],
      ['diarhea', 'diarrhea'],
      ['dizzyness', 'dizziness'],
      ['fatigeu', 'fatigue'],
      ['palpitatoins', 'palpitations'],
      ['swellling', 'swelling'],
      ['spreadng', 'spreading'],
      ['stifness', 'stiffness'],
      ['exertoin', 'exertion'],
      ['Headahce', 'Headache'],
    ];
    for (const [bad, good] of pairs) {
      const r = spell.correct(`Reports ${bad} today.`);
      assert.equal(r.text, `Reports ${good} today.`, bad);
      assert.deepEqual(
        r.changes.map((c) => [c.start, c.from, c.to]),
        [[8, bad, good]],
      );
    }
  });

  it('leaves correct rare terms, abbreviations, units, drugs, numbers and PHI tags alone', () => {
    const keep = [
      'pheochromocytoma',
      'hypokalemia',
      'cholecystitis',
      'hemoptysis',
      'erythema',
      'tachycardia',
      'dyspnea',
      'COPD',
      'SOB',
      'HTN',
      'NSTEMI',
      'bid',
      'prn',
      'q6h',
      '5mg',
      'mmHg',
      'lisinopril',
      'metoprolol',
      'apixaban',
      '[NAME]',
      '[DATE:3f9a2c1d0b]',
      "doesn't",
      'McBurney',
      'abd',
      'diab',
    ];
    for (const w of keep) assert.deepEqual(spell.correct(`Noted ${w} today.`).changes, [], w);
  });

  it('lexicon files: words with optional counts; unreadable or empty files are clear errors', () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'medtune-lex-'));
    writeFileSync(path.join(d, 'lex.txt'), '# clinic words\nhidradenitis 12\nsuppurativa\n');
    const user = readLexiconFile(path.join(d, 'lex.txt'));
    assert.deepEqual(
      [...user],
      [
        ['hidradenitis', 12],
        ['suppurativa', 1],
      ],
    );
    const s = new SpellCorrector(new Lexicon({ user, dictionaries: false }));
    assert.equal(s.correct('hidradenitsi noted').text, 'hidradenitis noted');
    assert.throws(
      () => readLexiconFile(path.join(d, 'missing.txt')),
      /cannot read the lexicon .*missing.txt: it does not exist/,
    );
    writeFileSync(path.join(d, 'empty.txt'), '# nothing\n');
    assert.throws(() => readLexiconFile(path.join(d, 'empty.txt')), /has no words/);
    rmSync(d, { recursive: true });
  });

  const bio = fixturePath('models', 'mini-biobert');
  it('the model vocabulary joins the lexicon (mini-biobert)', { skip: !bio && 'needs ../shared' }, () => {
    const words = modelVocabWords(bio!);
    assert.ok(words.length > 3000 && words.includes('patients'), `${words.length} words`);
    const s = new SpellCorrector(new Lexicon({ vocab: words, dictionaries: true }));
    assert.equal(s.correct('the pateints were randomized').text, 'the patients were randomized');
  });
});

describe('spelling that keeps meaning', () => {
  it('lists, does not apply, a correction another word is as close to — unless the context agrees', async () => {
    const { Lexicon, SpellCorrector } = await import('./spell.js');
    const lex = new Lexicon({ corpus: ['produce '.repeat(5) + 'pneumonia '.repeat(4) + 'patient '.repeat(4)] });
    const plain = new SpellCorrector(lex).correct('Productve cough and Pnuemonia in the patinet.');
    assert.equal(plain.text, 'Productve cough and Pneumonia in the patient.');
    const [prod] = plain.changes;
    assert.deepEqual(
      [prod!.from, prod!.to, prod!.applied, prod!.alternatives],
      ['Productve', 'Produce', false, ['productive']],
    );
    const context = new SpellCorrector(lex, 2, (_t, _s, _e, options) =>
      options.includes('productive') ? 'productive' : null,
    );
    assert.equal(context.correct('Productve cough.').text, 'Productive cough.');
  });
});
