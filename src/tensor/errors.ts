/** Errors of the tensor engine (internal bugs when they reach a user: exit 1). The catalogue is common/errors.ts. */
import { MedtuneError } from '../common/errors.js';

export { MedtuneError };

/** A tensor shape or dtype does not fit an op. */
export class ShapeError extends MedtuneError {
  constructor(message: string) {
    super(message, 'E_SHAPE');
    this.name = 'ShapeError';
  }
}

/** A tensor was used after dispose(). */
export class DisposedError extends MedtuneError {
  constructor(message: string) {
    super(message, 'E_DISPOSED');
    this.name = 'DisposedError';
  }
}
