/**
 * Streamed XML (plain or .gz) through saxes: elements and text are handed to a visitor as they are read, so files
 * of several GB never sit in memory. A file that is not well-formed (or not the expected document) stops with the
 * file, line and column; the messages name tags, never the text content.
 */
import { SaxesParser } from 'saxes';
import { decodeFile, DataError } from '../readers.js';

export interface XmlVisitor {
  /** the first element: throw here when it is not the expected document */
  root?(name: string): void;
  /** `path` holds the names of the open elements, outermost first, this one last */
  open(name: string, attributes: Record<string, string>, path: readonly string[]): void;
  close(name: string, path: readonly string[]): void;
  /** character data (entities resolved; CDATA included) */
  text(text: string): void;
}

/** Reads `file` through `visitor`; `onBytes` receives the bytes read from disk. */
export async function readXml(file: string, visitor: XmlVisitor, onBytes?: (n: number) => void): Promise<void> {
  const parser = new SaxesParser({ position: true });
  const stack: string[] = [];
  const fail = (what: string) => new DataError(`${file}: line ${parser.line}, column ${parser.column}: ${what}`);
  parser.on('error', (e) => {
    throw fail(`the XML is not well-formed (${e.message.replace(/^(?:[^:]*:)?\d+:\d+: /, '').replace(/\.$/, '')})`);
  });
  parser.on('opentag', (t) => {
    if (!stack.length) visitor.root?.(t.name);
    stack.push(t.name);
    visitor.open(t.name, t.attributes as Record<string, string>, stack);
  });
  parser.on('closetag', (t) => {
    visitor.close(t.name, stack);
    stack.pop();
  });
  parser.on('text', (t) => visitor.text(t));
  parser.on('cdata', (t) => visitor.text(t));
  let any = false;
  for await (const chunk of decodeFile(file, undefined, onBytes)) {
    if (chunk) any = true;
    parser.write(chunk);
  }
  if (!any) throw new DataError(`${file} is empty`, 'E_INPUT_EMPTY');
  parser.close();
}

/** Collects the text of elements (and of their inline children, e.g. <i>, <sup>) while `active`. */
export class TextCapture {
  private parts: string[] | null = null;
  start(): void {
    this.parts = [];
  }
  get active(): boolean {
    return this.parts !== null;
  }
  add(t: string): void {
    this.parts?.push(t);
  }
  /** the collected text, whitespace runs collapsed to one space */
  end(): string {
    const s = (this.parts ?? []).join('').replace(/\s+/g, ' ').trim();
    this.parts = null;
    return s;
  }
}
