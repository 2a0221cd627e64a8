// The synthetic PHI corpus: deterministic from its seed, every span on the text it marks, every note kind and PHI
// type present, typos of clinical words never inside PHI, and another seed giving other notes (a held-out set).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NOTE_KINDS, PHI_TYPES, syntheticCorpus } from './synthetic-corpus.js';

describe('synthetic PHI corpus', () => {
  const notes = syntheticCorpus(300, 5);
  it('is deterministic and differs between seeds', () => {
    assert.deepEqual(syntheticCorpus(20, 5), notes.slice(0, 20));
    const other = new Set(syntheticCorpus(300, 6).map((n) => n.text));
    assert.ok(notes.filter((n) => other.has(n.text)).length < 3);
  });

  it('marks spans that are on the text, sorted, not overlapping, of the PHI types', () => {
    for (const n of notes) {
      let end = 0;
      for (const e of n.entities) {
        assert.ok(e.start >= end && e.end > e.start && e.end <= n.text.length);
        assert.ok((PHI_TYPES as readonly string[]).includes(e.label));
        assert.equal(n.text.slice(e.start, e.end).trim(), n.text.slice(e.start, e.end));
        end = e.end;
      }
    }
    const kinds = new Set(notes.map((n) => n.kind));
    assert.deepEqual([...kinds].sort(), [...NOTE_KINDS].sort());
    const types = new Set(notes.flatMap((n) => n.entities.map((e) => e.label)));
    assert.deepEqual([...types].sort(), [...PHI_TYPES].sort());
  });

  it('has lower-case names, ZIP+4 and capitalised typos outside PHI', () => {
    const phi = notes.flatMap((n) => n.entities.map((e) => n.text.slice(e.start, e.end)));
    assert.ok(
      phi.some((p) => /\b\d{5}-\d{4}\b/.test(p)),
      'ZIP+4',
    );
    assert.ok(
      phi.some((p) => /^[a-z]{3,}$/.test(p)),
      'a lower-case name',
    );
    for (const n of notes)
      for (const m of n.text.matchAll(/Pnuemonia|Siezure|Diabetis/g))
        assert.ok(!n.entities.some((e) => e.start <= m.index && m.index < e.end), 'a typo marked as PHI');
  });
});
