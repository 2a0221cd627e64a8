// De-identification: recognisers, linear-time patterns, anonymisers (consistent surrogates, interval-preserving
// date shifts), and the measured quality on Presidio's set and on our clinical set.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyze } from './analyzer.js';
import { deidentify, shiftDate, dateOffsetDays, surrogate } from './anonymize.js';
import { luhn, ibanValid } from './recognizers.js';
import { evaluateDeid, type GoldDoc } from './evaluate.js';
import { clinicalSet } from './clinical-set.js';
import { heldoutClinicalSet } from './heldout-set.js';
import { fixturePath } from '../testing-fixtures.js';

const types = (t: string) => analyze(t).map((e) => [e.type, e.text]);

describe('recognisers', () => {
  it('finds the HIPAA identifiers in a clinical sentence', () => {
    const t =
      'Pt Maria Okafor (MRN: 4839201) seen by Dr. Chen on 01/02/2020 at Mercy General Hospital. ' +
      'Call 617-555-0134 or maria.okafor@mail.com; SSN 123-45-6789; lives at 12 Oak Street, Boston, MA 02115. ' +
      '92-year-old.';
    const found = new Map(analyze(t).map((e) => [e.text, e.type]));
    for (const [text, type] of [
      ['Maria Okafor', 'PERSON'],
      ['4839201', 'ID'],
      ['Dr. Chen', 'PERSON'],
      ['01/02/2020', 'DATE_TIME'],
      ['617-555-0134', 'PHONE_NUMBER'],
      ['maria.okafor@mail.com', 'EMAIL_ADDRESS'],
      ['123-45-6789', 'US_SSN'],
      ['12 Oak Street', 'ADDRESS'],
      ['92-year-old', 'AGE'],
    ]) {
      assert.equal(found.get(text), type, `${text} -> ${found.get(text)} in ${JSON.stringify([...found])}`);
    }
    assert.ok([...found.keys()].some((k) => k.includes('Mercy General Hospital')));
  });
  it('date forms, but not a bare year; ages over 89 only', () => {
    for (const d of ['01/02/1960', '2/1/60', 'Jan 2, 1960', '2nd of January', '1960-01-02'])
      assert.deepEqual(types(`on ${d} we met`), [['DATE_TIME', d]], d);
    assert.deepEqual(types('born in 1960 and seen'), []);
    assert.deepEqual(types('a 45-year-old man'), []);
    assert.deepEqual(
      types('a 95 year old woman').map((x) => x[0]),
      ['AGE'],
    );
  });
  it('checksums: Luhn for cards, mod-97 for IBANs', () => {
    assert.ok(luhn('4929578569339117'));
    assert.ok(!luhn('4929578569339118'));
    assert.ok(ibanValid('GB42HRSI56613285431668'));
    assert.ok(!ibanValid('GB42HRSI56613285431669'));
    assert.deepEqual(
      types('card 4929 5785 6933 9117 ok').map((x) => x[0]),
      ['CREDIT_CARD'],
    );
    assert.deepEqual(
      types('card 4929 5785 6933 9118 ok')
        .map((x) => x[0])
        .filter((x) => x === 'CREDIT_CARD'),
      [],
    );
  });
  it('disease eponyms are not names; allow and deny lists are configurable', () => {
    assert.deepEqual(types("History of Parkinson disease, Hodgkin lymphoma and Crohn's disease."), []);
    // eponyms that are common surnames are names unless a clinical word follows
    assert.deepEqual(types("Wilson disease, Bell's palsy and Barrett's esophagus; positive Murphy's sign."), []);
    assert.deepEqual(
      types('Seen with her brother James Wilson today.').map((x) => x[0]),
      ['PERSON'],
    );
    assert.deepEqual(
      analyze('Dr. Smith saw him', { allowList: ['smith'] }).filter(
        (e) => e.text.includes('Smith') && e.text !== 'Dr. Smith',
      ).length,
      0,
    );
    assert.deepEqual(
      analyze('code ZEBRA-7 used', { denyList: ['ZEBRA-7'] }).map((e) => e.type),
      ['DENY'],
    );
  });
  it('runs in linear time on adversarial input (100 KB of digits, spaces, capitals)', () => {
    for (const s of [
      '7'.repeat(100_000),
      ' '.repeat(100_000),
      'Aa '.repeat(33_000),
      '1-'.repeat(50_000),
      'a@'.repeat(50_000),
      '1 Ab '.repeat(20_000),
    ]) {
      const t0 = performance.now();
      analyze(s);
      const ms = performance.now() - t0;
      assert.ok(ms < 5000, `${JSON.stringify(s.slice(0, 6))}… took ${ms.toFixed(0)} ms`);
    }
    // doubling the input at most ~doubles the time (no quadratic blow-up)
    const time = (n: number) => {
      const s = '12 '.repeat(n);
      const t0 = performance.now();
      analyze(s);
      return performance.now() - t0;
    };
    time(10_000);
    const a = time(20_000);
    const b = time(80_000);
    assert.ok(b < a * 12, `20k: ${a.toFixed(0)} ms, 80k: ${b.toFixed(0)} ms`);
  });
});

describe('anonymisers', () => {
  it('tag, redact, mask and hash keep the rest of the text and report original offsets', () => {
    const t = 'Call Maria Okafor at 617-555-0134.';
    const r = deidentify(t, { operator: 'tag' });
    assert.equal(r.text, 'Call [NAME] at [PHONE].');
    for (const e of r.entities) assert.equal(t.slice(e.start, e.end), e.text);
    assert.equal(deidentify(t, { operator: 'redact' }).text, 'Call  at .');
    assert.equal(deidentify(t, { operator: 'mask' }).text, 'Call ***** ****** at ***-***-****.');
    assert.match(
      deidentify(t, { operator: 'hash', secret: 'k' }).text,
      /^Call \[NAME:[0-9a-f]{10}\] at \[PHONE:[0-9a-f]{10}\]\.$/,
    );
  });
  it('surrogates are consistent across documents and keyed by the secret', () => {
    const a = deidentify('Maria Okafor was seen. Maria Okafor left.', { operator: 'surrogate', secret: 'k1' }).text;
    const m = /^(.+) was seen\. (.+) left\.$/.exec(a)!;
    assert.equal(m[1], m[2]);
    assert.notEqual(m[1], 'Maria Okafor');
    assert.equal(surrogate('PERSON', 'Maria Okafor', 'k1'), surrogate('PERSON', 'maria okafor ', 'k1'));
    assert.notEqual(surrogate('PERSON', 'Maria Okafor', 'k1'), surrogate('PERSON', 'Maria Okafor', 'k2'));
    assert.equal(
      deidentify('MRN: 4839201', { operator: 'surrogate', secret: 'k1' }).text,
      deidentify('MRN: 4839201', { operator: 'surrogate', secret: 'k1' }).text,
    );
  });
  it('date shifting keeps intervals, per patient, in the original format', () => {
    assert.equal(shiftDate('2020-01-30', 3), '2020-02-02');
    assert.equal(shiftDate('01/30/2020', -30), '12/31/2019');
    assert.equal(shiftDate('Jan 2, 1960', 1), 'Jan 3, 1960');
    assert.equal(shiftDate('2nd of January', 1), '3rd of January');
    const days = (s: string) => Date.parse(s.replace(/(\d+)\/(\d+)\/(\d+)/, '$3-$1-$2'));
    const text = 'Admitted 03/01/2021, discharged 03/15/2021, seen again 2021-04-01.';
    for (const patient of ['p1', 'p2']) {
      const out = deidentify(text, { operator: 'surrogate', secret: 's', patientId: patient }).text;
      const ds = [...out.matchAll(/\d{2}\/\d{2}\/\d{4}|\d{4}-\d{2}-\d{2}/g)].map((m) => days(m[0]));
      assert.equal((ds[1]! - ds[0]!) / 864e5, 14);
      assert.equal((ds[2]! - ds[0]!) / 864e5, 31);
      assert.notEqual(out, text);
    }
    assert.notEqual(dateOffsetDays('s', 'p1'), 0);
    assert.equal(dateOffsetDays('s', 'p1'), dateOffsetDays('s', 'p1'));
  });
});

describe('quality (docs/deid.md)', () => {
  const gold = fixturePath('data', 'pii-presidio', 'generated_large.json');
  it(
    'Presidio synthetic PII: recall ≥ 0.90 overall, ≥ 0.95 for PERSON/PHONE/EMAIL/SSN/CREDIT_CARD, ' +
      'precision ≥ 0.85',
    { skip: !gold && 'needs ../shared' },
    () => {
      const r = evaluateDeid(JSON.parse(readFileSync(gold!, 'utf8')) as GoldDoc[]);
      assert.ok(r.recall >= 0.9, `recall ${r.recall}`);
      assert.ok(r.precision >= 0.85, `precision ${r.precision}`);
      for (const t of ['PERSON', 'PHONE_NUMBER', 'EMAIL_ADDRESS', 'US_SSN', 'CREDIT_CARD']) {
        const s = r.byGoldType.find((x) => x.type === t)!;
        assert.ok(s.recall >= 0.95, `${t} recall ${s.recall}`);
      }
    },
  );
  it('the committed clinical set equals its generator, and is de-identified with high recall and precision', () => {
    const file = path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      '..',
      '..',
      'src',
      'deid',
      'testdata',
      'clinical-notes.json',
    );
    const docs = JSON.parse(readFileSync(file, 'utf8')) as GoldDoc[];
    assert.deepEqual(docs, clinicalSet());
    assert.ok(docs.length >= 100);
    const r = evaluateDeid(docs);
    assert.ok(r.recall >= 0.95 && r.precision >= 0.9, `recall ${r.recall}, precision ${r.precision}`);
  });
  it('the second ("held-out") clinical set equals its generator and stays above its measured quality', () => {
    const file = path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      '..',
      '..',
      'src',
      'deid',
      'testdata',
      'clinical-notes-heldout.json',
    );
    const docs = JSON.parse(readFileSync(file, 'utf8')) as GoldDoc[];
    assert.deepEqual(docs, heldoutClinicalSet());
    const r = evaluateDeid(docs);
    assert.ok(r.recall >= 0.95 && r.precision >= 0.9, `recall ${r.recall}, precision ${r.precision}`);
  });
});
