/**
 * BtfError: every failure caused by bad BTF or BTF.ext bytes, a bad lookup or
 * a CO-RE relocation that cannot be satisfied. It says what went wrong and
 * where: the section (.BTF, .BTF.ext func_info, ...), the byte offset inside
 * it and, when known, the type id.
 */
import { BpfkitError } from '../errors.js';

export interface BtfErrorWhere {
  /** '.BTF', '.BTF.ext', or a sub-section like '.BTF.ext line_info'. */
  section?: string;
  /** Byte offset inside the whole blob (not the sub-section). */
  offset?: number;
  /** The BTF type id concerned. */
  typeId?: number;
}

export class BtfError extends BpfkitError {
  readonly section: string | undefined;
  readonly offset: number | undefined;
  readonly typeId: number | undefined;
  /** The message without the where-prefix. */
  readonly reason: string;

  constructor(message: string, where: BtfErrorWhere = {}, code = 'EBTF') {
    const parts: string[] = [];
    if (where.section !== undefined) parts.push(where.section);
    if (where.typeId !== undefined) parts.push(`type [${where.typeId}]`);
    if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
    super(code, parts.length > 0 ? `${parts.join(', ')}: ${message}` : message);
    this.section = where.section;
    this.offset = where.offset;
    this.typeId = where.typeId;
    this.reason = message;
  }
}

/** A CO-RE relocation that cannot be computed (bad access string, ambiguous candidates, ...). */
export class CoreRelocationError extends BtfError {
  constructor(message: string, where: BtfErrorWhere = {}) {
    super(message, where, 'EBTF_CORE');
  }
}
