// Long synthetic notes: the labelled text sits where asked, inside 600–1,200 words of label-independent text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { longNote, POSITIONS } from './long-notes.js';

describe('long notes', () => {
  const text = 'I have had a rash on my arms and a fever for three days.';
  it('places the text at the start, in the middle or at the end, the same for the same seed', () => {
    for (const position of POSITIONS) {
      const note = longNote(text, position, 7);
      assert.equal(note, longNote(text, position, 7));
      const words = note.split(/\s+/).length;
      assert.ok(words >= 600 && words <= 1400, `${words} words`);
      const at = note.indexOf(text) / note.length;
      if (position === 'start') assert.ok(at < 0.05);
      else if (position === 'end') assert.ok(note.endsWith(text));
      else assert.ok(at > 0.3 && at < 0.7, `${at}`);
    }
  });
  it('the filler does not depend on the text (only the seed)', () => {
    const strip = (n: string, t: string) => n.replace(t, '');
    assert.equal(strip(longNote(text, 'end', 3), text), strip(longNote('cough', 'end', 3), 'cough'));
  });
});
