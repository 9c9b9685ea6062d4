/**
 * Errors a filter expression can cause. A syntax error points at a column
 * (0-based internally, printed 1-based) and `detail()` shows the expression
 * with a caret under that column. A semantic error (an unknown name, a
 * qualifier that does not fit, a primitive the link type lacks) says what is
 * wrong in libpcap's words where the two agree.
 */
import { BpfkitError } from '../errors.js';

function caret(expression: string, column: number): string {
  const flat = expression.replace(/[\t\r\n]/g, ' ');
  const col = Math.max(0, Math.min(column, flat.length));
  return `  ${flat}\n  ${' '.repeat(col)}^`;
}

export class FilterSyntaxError extends BpfkitError {
  /** 0-based column of the offending token in `expression`. */
  readonly column: number;
  readonly expression: string;

  constructor(message: string, expression: string, column: number) {
    super('EFILTER_SYNTAX', `${message} (column ${column + 1})`);
    this.column = column;
    this.expression = expression;
  }

  override detail(): string {
    return caret(this.expression, this.column);
  }
}

export class FilterSemanticError extends BpfkitError {
  /** 0-based column of the primitive the error is about, when known. */
  column: number | undefined;
  expression: string | undefined;

  constructor(message: string, expression?: string, column?: number) {
    super('EFILTER_SEMANTIC', message);
    this.expression = expression;
    this.column = column;
  }

  override detail(): string | undefined {
    if (this.expression === undefined || this.column === undefined) return undefined;
    return caret(this.expression, this.column);
  }
}
