/** Typed errors for the whole toolkit. Every message says what was wrong and what to do. */
export class MedtuneError extends Error {
  constructor(message: string, readonly code: string = 'MEDTUNE_ERROR') {
    super(message);
    this.name = 'MedtuneError';
  }
}

/** A tensor shape or dtype does not fit an op. */
export class ShapeError extends MedtuneError {
  constructor(message: string) {
    super(message, 'SHAPE_ERROR');
    this.name = 'ShapeError';
  }
}

/** A tensor was used after dispose(). */
export class DisposedError extends MedtuneError {
  constructor(message: string) {
    super(message, 'DISPOSED');
    this.name = 'DisposedError';
  }
}
