/**
 * What a text must have before a model is asked about it: at least one letter or digit. A text of only whitespace,
 * punctuation, symbols, zero-width or control characters (which `trim()` keeps) says nothing a model could answer;
 * the server refuses it (400 E_BAD_REQUEST) and `predict` skips its row.
 */
import { MedtuneError } from '../common/errors.js';

/** True when the text has a letter or a digit (any script). */
export function hasWords(text: string): boolean {
  return /[\p{L}\p{N}]/u.test(text);
}

/** Refuses texts without a letter or digit (E_BAD_REQUEST), naming the text by its position, never quoting it. */
export function checkHasWords(texts: string[], several: boolean): void {
  texts.forEach((t, i) => {
    if (hasWords(t)) return;
    const which = several ? `text ${i + 1}` : 'the text';
    const only = t.trim() ? 'punctuation, symbols, invisible or control characters' : 'whitespace';
    throw new MedtuneError(`${which} has no letter or digit (only ${only}); send the words of a note`, 'E_BAD_REQUEST');
  });
}
