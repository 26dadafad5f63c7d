/**
 * A small SQL tokenizer for the statements replicas and binlog clients send (§2.5 of the protocol brief).
 *
 * Token kinds:
 *   ident     bare word (keywords too): letters, digits, '_', '$'; matched case-insensitively by the parser
 *   qident    `back-quoted` identifier ('``' is a quote inside)
 *   string    'single' or "double" quoted text, with backslash escapes and doubled quotes
 *   number    123, 1.5, .5, 1e3, 0x1F
 *   uservar   @name, @'name', @"name", @`name`
 *   sysvar    @@name, @@global.name, @@session.name, @@local.name
 *   op        ( ) , ; = := . * + - / % < > <= >= <> != !
 *   eof
 *
 * Comments are skipped: `-- ` to the end of the line, `#` to the end of the line, `/* … *\/`. The body of a
 * versioned comment `/*!40101 … *\/` or MariaDB's `/*M!100100 … *\/` is tokenized as SQL, as servers do.
 * Every token records its [start, end) offsets in the source so that a SELECT column can be named by the
 * expression text as written. Errors (unterminated quotes or comments) throw SqlSyntaxError.
 */

export type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'uservar' | 'sysvar' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** ident/qident: the name; string: the decoded text; number: the literal; op: the operator;
   *  uservar: the name; sysvar: the name (scope in `scope`). */
  text: string;
  /** sysvar only: 'global' | 'session' | null (plain @@name; LOCAL is SESSION). */
  scope?: 'global' | 'session' | null;
  start: number;
  end: number;
}

export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    /** Offset in the statement where the problem starts (for the "near '…'" part of ERR 1064). */
    readonly at: number,
  ) {
    super(message);
    this.name = 'SqlSyntaxError';
  }
}

const TWO_CHAR_OPS = new Set([':=', '<=', '>=', '<>', '!=', '<=>', '||', '&&']);
const ONE_CHAR_OPS = new Set(['(', ')', ',', ';', '=', '.', '*', '+', '-', '/', '%', '<', '>', '!', '~', '&', '|', '^']);

function isIdentStart(c: string): boolean {
  return /[A-Za-z_$\u0080-\uffff]/.test(c);
}

function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

const ESCAPES: Record<string, string> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a', '\\': '\\', "'": "'", '"': '"' };

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;

  const readQuoted = (quote: string, start: number): { text: string; end: number } => {
    let text = '';
    let j = start + 1;
    for (;;) {
      if (j >= n) throw new SqlSyntaxError('unterminated quoted string', start);
      const c = sql[j]!;
      if (c === '\\' && quote !== '`') {
        const e = sql[j + 1];
        if (e === undefined) throw new SqlSyntaxError('unterminated quoted string', start);
        // '\%' and '\_' keep their backslash (they matter to LIKE).
        text += e === '%' || e === '_' ? `\\${e}` : (ESCAPES[e] ?? e);
        j += 2;
        continue;
      }
      if (c === quote) {
        if (sql[j + 1] === quote) {
          text += quote;
          j += 2;
          continue;
        }
        return { text, end: j + 1 };
      }
      text += c;
      j++;
    }
  };

  while (i < n) {
    const c = sql[i]!;
    // whitespace
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    // comments
    if (c === '#' || (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2]!)))) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) throw new SqlSyntaxError('unterminated comment', i);
      const versioned = /^\/\*(M?!)([0-9]{5,6})?/.exec(sql.slice(i, Math.min(close, i + 12)));
      if (versioned) {
        // Executable comment: tokenize its body in place (offsets stay those of the source).
        const bodyStart = i + versioned[0].length;
        for (const t of tokenize(sql.slice(bodyStart, close))) {
          if (t.kind === 'eof') break;
          out.push({ ...t, start: t.start + bodyStart, end: t.end + bodyStart });
        }
      }
      i = close + 2;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      const q = readQuoted(c, i);
      out.push({ kind: 'string', text: q.text, start, end: q.end });
      i = q.end;
      continue;
    }
    if (c === '`') {
      const q = readQuoted('`', i);
      out.push({ kind: 'qident', text: q.text, start, end: q.end });
      i = q.end;
      continue;
    }
    if (c === '@') {
      if (sql[i + 1] === '@') {
        let j = i + 2;
        const word = (): string => {
          if (sql[j] === '`') {
            const q = readQuoted('`', j);
            j = q.end;
            return q.text;
          }
          const s = j;
          while (j < n && isIdentPart(sql[j]!)) j++;
          if (j === s) throw new SqlSyntaxError('system variable name expected', start);
          return sql.slice(s, j);
        };
        let name = word();
        let scope: 'global' | 'session' | null = null;
        const lower = name.toLowerCase();
        if (sql[j] === '.' && (lower === 'global' || lower === 'session' || lower === 'local')) {
          j++;
          scope = lower === 'global' ? 'global' : 'session';
          name = word();
        }
        out.push({ kind: 'sysvar', text: name, scope, start, end: j });
        i = j;
        continue;
      }
      const q = sql[i + 1];
      if (q === "'" || q === '"' || q === '`') {
        const r = readQuoted(q, i + 1);
        out.push({ kind: 'uservar', text: r.text, start, end: r.end });
        i = r.end;
        continue;
      }
      let j = i + 1;
      while (j < n && (isIdentPart(sql[j]!) || sql[j] === '.')) j++;
      if (j === i + 1) throw new SqlSyntaxError('user variable name expected', start);
      out.push({ kind: 'uservar', text: sql.slice(i + 1, j), start, end: j });
      i = j;
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(sql[i + 1]))) {
      let j = i;
      if (c === '0' && (sql[i + 1] === 'x' || sql[i + 1] === 'X') && /[0-9a-fA-F]/.test(sql[i + 2] ?? '')) {
        j = i + 2;
        while (j < n && /[0-9a-fA-F]/.test(sql[j]!)) j++;
      } else {
        while (isDigit(sql[j])) j++;
        if (sql[j] === '.') {
          j++;
          while (isDigit(sql[j])) j++;
        }
        if ((sql[j] === 'e' || sql[j] === 'E') && (isDigit(sql[j + 1]) || ((sql[j + 1] === '+' || sql[j + 1] === '-') && isDigit(sql[j + 2])))) {
          j += 2;
          while (isDigit(sql[j])) j++;
        }
      }
      // "1abc" is an identifier in MySQL; keep it simple and treat a letter right after digits as part of a word.
      if (j < n && isIdentStart(sql[j]!) && !/[eE]/.test(sql[j]!)) {
        while (j < n && isIdentPart(sql[j]!)) j++;
        out.push({ kind: 'ident', text: sql.slice(i, j), start, end: j });
      } else {
        out.push({ kind: 'number', text: sql.slice(i, j), start, end: j });
      }
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(sql[j]!)) j++;
      out.push({ kind: 'ident', text: sql.slice(i, j), start, end: j });
      i = j;
      continue;
    }
    const three = sql.slice(i, i + 3);
    if (TWO_CHAR_OPS.has(three)) {
      out.push({ kind: 'op', text: three, start, end: i + 3 });
      i += 3;
      continue;
    }
    const two = sql.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) {
      out.push({ kind: 'op', text: two, start, end: i + 2 });
      i += 2;
      continue;
    }
    if (ONE_CHAR_OPS.has(c)) {
      out.push({ kind: 'op', text: c, start, end: i + 1 });
      i++;
      continue;
    }
    throw new SqlSyntaxError(`unexpected character '${c}'`, i);
  }
  out.push({ kind: 'eof', text: '', start: n, end: n });
  return out;
}
