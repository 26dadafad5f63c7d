/**
 * A recursive-descent parser for the statements a source must understand (§2.5 of the protocol brief):
 * SET lists, SELECT of expressions with aliases, the SHOW statements of replication, KILL, USE and the
 * transaction no-ops. Anything else is classified (read-only or not) so that the router can forward it to
 * the primary when passthrough is on, or answer with an ERR.
 *
 * Expression precedence, lowest first: OR, AND, NOT, comparison (= <> != < > <= >= LIKE IN IS),
 * additive (+ -), multiplicative (* / % DIV MOD), unary (- + ! ~), primary.
 */
import { SqlSyntaxError, tokenize, type Token } from './tokenizer.js';
import { NULL_VALUE, type TypedValue } from './values.js';

export type Expr =
  | { kind: 'literal'; value: TypedValue }
  | { kind: 'sysvar'; name: string; scope: 'global' | 'session' | null }
  | { kind: 'uservar'; name: string }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'column'; name: string }
  | { kind: 'default' }
  | { kind: 'unary'; op: '-' | '+' | 'NOT' | '~'; expr: Expr }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'like'; expr: Expr; pattern: Expr; not: boolean }
  | { kind: 'in'; expr: Expr; list: Expr[]; not: boolean }
  | { kind: 'is_null'; expr: Expr; not: boolean };

export type BinaryOp = 'OR' | 'AND' | '=' | '<=>' | '<>' | '<' | '>' | '<=' | '>=' | '+' | '-' | '*' | '/' | '%' | 'DIV';

export type Scope = 'global' | 'session';

export type SetItem =
  | { target: 'user'; name: string; expr: Expr }
  | { target: 'system'; name: string; scope: Scope | null; expr: Expr }
  | { target: 'names'; charset: string | null; collate: string | null }
  | { target: 'charset'; charset: string | null };

export interface SelectItem {
  expr: Expr;
  /** Column name: the alias, or the expression text as written. */
  name: string;
}

export type Statement =
  | { kind: 'empty' }
  | { kind: 'set'; items: SetItem[] }
  | { kind: 'set_transaction'; scope: Scope | null }
  | { kind: 'select'; items: SelectItem[]; limit: bigint | null; offset: bigint }
  | { kind: 'show_variables'; status: boolean; scope: Scope; like: string | null; where: Expr | null }
  | { kind: 'show_master_status'; syntax: 'master' | 'binary_log' | 'binlog' }
  | { kind: 'show_binary_logs' }
  | { kind: 'show_slave_hosts'; syntax: 'slave_hosts' | 'replicas' }
  | { kind: 'show_slave_status'; syntax: 'slave' | 'replica' | 'all_slaves' }
  | { kind: 'show_warnings'; errors: boolean; count: boolean }
  | { kind: 'show_processlist'; full: boolean }
  | { kind: 'kill'; what: 'connection' | 'query'; id: Expr }
  | { kind: 'use'; database: string }
  | { kind: 'transaction'; verb: string }
  /** Not answered here. `syntaxAt`: we could not parse it (the primary may still understand it). */
  | { kind: 'unsupported'; readOnly: boolean; verb: string; syntaxAt?: number };

/** Words that end a SELECT item's implicit alias position (`SELECT 1 FROM` is not `1 AS FROM`). */
const RESERVED_AFTER_EXPR = new Set([
  'FROM', 'WHERE', 'LIMIT', 'ORDER', 'GROUP', 'HAVING', 'UNION', 'INTO', 'FOR', 'LOCK', 'AS', 'AND', 'OR', 'NOT',
  'LIKE', 'IN', 'IS', 'DIV', 'MOD', 'ESCAPE', 'WINDOW', 'PROCEDURE', 'OFFSET', 'XOR', 'BETWEEN', 'REGEXP', 'RLIKE',
]);

/** First words of statements that only read (candidates for passthrough). */
const READ_ONLY_VERBS = new Set(['SELECT', 'SHOW', 'DESC', 'DESCRIBE', 'EXPLAIN', 'HELP', 'WITH', 'TABLE', 'VALUES', 'CHECKSUM']);

/** First words of other SQL statements we recognise as SQL (so they are "not supported", not syntax errors). */
const OTHER_VERBS = new Set([
  'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'RENAME', 'GRANT', 'REVOKE',
  'FLUSH', 'RESET', 'PURGE', 'CHANGE', 'START', 'STOP', 'LOAD', 'CALL', 'DO', 'HANDLER', 'LOCK', 'UNLOCK', 'ANALYZE',
  'OPTIMIZE', 'REPAIR', 'CHECK', 'INSTALL', 'UNINSTALL', 'PREPARE', 'EXECUTE', 'DEALLOCATE', 'XA', 'SAVEPOINT',
  'RELEASE', 'SHUTDOWN', 'RESTART', 'CLONE', 'IMPORT', 'BINLOG', 'CACHE', 'SIGNAL', 'RESIGNAL', 'GET', 'BACKUP',
]);

/** Words that make a statement write (FOR UPDATE, a CTE feeding an UPDATE/DELETE, ...). */
const WRITE_WORDS = new Set(['UPDATE', 'DELETE', 'INSERT', 'REPLACE', 'CALL', 'SLEEP', 'GET_LOCK', 'BENCHMARK']);

/** Deepest expression nesting accepted (a hostile `((((…))))` must not exhaust the stack). */
const MAX_DEPTH = 100;

class Parser {
  private i = 0;
  private depth = 0;

  constructor(
    private readonly sql: string,
    private readonly tokens: Token[],
  ) {}

  // ----- token helpers ------------------------------------------------------------------------------

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.text.toUpperCase() === word;
  }

  acceptWord(...words: string[]): boolean {
    for (let k = 0; k < words.length; k++) if (!this.isWord(words[k]!, k)) return false;
    this.i += words.length;
    return true;
  }

  expectWord(word: string): void {
    if (!this.acceptWord(word)) this.fail();
  }

  isOp(op: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'op' && t.text === op;
  }

  acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.i++;
    return true;
  }

  expectOp(op: string): void {
    if (!this.acceptOp(op)) this.fail();
  }

  fail(at: Token = this.peek()): never {
    throw new SqlSyntaxError('syntax error', at.start);
  }

  /** An identifier (bare or quoted) or a string used as a name. */
  name(): string {
    const t = this.peek();
    if (t.kind === 'ident' || t.kind === 'qident' || t.kind === 'string') {
      this.i++;
      return t.text;
    }
    this.fail();
  }

  /** After the statement: optional ';' then the end. */
  end(): void {
    while (this.acceptOp(';')) {
      /* trailing semicolons */
    }
    if (this.peek().kind !== 'eof') this.fail();
  }

  // ----- statements ----------------------------------------------------------------------------------

  statement(): Statement {
    const t = this.peek();
    // Several statements in one COM_QUERY (we never offer CLIENT_MULTI_STATEMENTS): never ours, never forwarded.
    for (let k = 0; k < this.tokens.length - 1; k++) {
      const tk = this.tokens[k]!;
      const next = this.tokens[k + 1]!;
      if (tk.kind === 'op' && tk.text === ';' && next.kind !== 'eof' && !(next.kind === 'op' && next.text === ';')) {
        return { kind: 'unsupported', readOnly: false, verb: t.kind === 'ident' ? t.text.toUpperCase() : t.text };
      }
    }
    if (t.kind === 'eof' || (t.kind === 'op' && t.text === ';')) {
      this.end();
      return { kind: 'empty' };
    }
    if (t.kind === 'op' && t.text === '(' ) return this.unsupported();
    if (t.kind !== 'ident') this.fail();
    const verb = t.text.toUpperCase();
    switch (verb) {
      case 'SET':
        this.i++;
        return this.set();
      case 'SELECT':
        return this.select();
      case 'SHOW':
        return this.show();
      case 'KILL':
        this.i++;
        return this.kill();
      case 'USE': {
        this.i++;
        const database = this.name();
        this.end();
        return { kind: 'use', database };
      }
      case 'BEGIN':
      case 'COMMIT':
      case 'ROLLBACK': {
        this.i++;
        while (this.peek().kind === 'ident') this.i++; // WORK, AND NO CHAIN, ...
        this.end();
        return { kind: 'transaction', verb };
      }
      case 'START':
        if (this.isWord('TRANSACTION', 1)) {
          this.i += 2;
          while (this.peek().kind === 'ident' || this.isOp(',')) this.i++; // READ ONLY, WITH CONSISTENT SNAPSHOT
          this.end();
          return { kind: 'transaction', verb: 'START TRANSACTION' };
        }
        return { kind: 'unsupported', readOnly: false, verb };
      default:
        if (READ_ONLY_VERBS.has(verb)) return this.unsupported();
        if (OTHER_VERBS.has(verb)) return { kind: 'unsupported', readOnly: false, verb };
        this.fail();
    }
  }

  /** A read-only statement we do not answer ourselves. `FOR UPDATE`, `INTO` and locking make it not read-only. */
  unsupported(): Statement {
    const verb = this.peek().kind === 'ident' ? this.peek().text.toUpperCase() : '(';
    let readOnly = true;
    for (let k = this.i; k < this.tokens.length; k++) {
      const t = this.tokens[k]!;
      if (t.kind !== 'ident') continue;
      const w = t.text.toUpperCase();
      if (w === 'INTO' || w === 'LOCK' || w === 'SHARE' || (WRITE_WORDS.has(w) && k > this.i)) readOnly = false;
      // Our own threads are not the primary's: never answer them from the primary.
      if (w === 'PROCESSLIST') readOnly = false;
    }
    return { kind: 'unsupported', readOnly, verb };
  }

  set(): Statement {
    // SET [GLOBAL|SESSION|LOCAL] TRANSACTION ...
    const scopeWord = this.peek().kind === 'ident' ? this.peek().text.toUpperCase() : '';
    if (scopeWord === 'TRANSACTION' || ((scopeWord === 'GLOBAL' || scopeWord === 'SESSION' || scopeWord === 'LOCAL') && this.isWord('TRANSACTION', 1))) {
      const scope: Scope | null = scopeWord === 'GLOBAL' ? 'global' : scopeWord === 'TRANSACTION' ? null : 'session';
      while (this.peek().kind === 'ident' || this.isOp(',') || this.isOp('-')) this.i++;
      this.end();
      return { kind: 'set_transaction', scope };
    }
    if (this.isWord('PASSWORD') || this.isWord('ROLE') || this.isWord('DEFAULT') && this.isWord('ROLE', 1) || this.isWord('STATEMENT')) {
      return { kind: 'unsupported', readOnly: false, verb: 'SET' };
    }
    const items: SetItem[] = [];
    let scope: Scope | null = null;
    for (;;) {
      items.push(this.setItem(scope, (s) => (scope = s)));
      if (!this.acceptOp(',')) break;
    }
    this.end();
    return { kind: 'set', items };
  }

  setItem(current: Scope | null, setScope: (s: Scope | null) => void): SetItem {
    const t = this.peek();
    if (t.kind === 'uservar') {
      this.i++;
      this.assignOp();
      return { target: 'user', name: t.text, expr: this.expr() };
    }
    if (t.kind === 'sysvar') {
      this.i++;
      const name = this.dottedRest(t.text);
      this.assignOp();
      return { target: 'system', name, scope: t.scope ?? null, expr: this.expr() };
    }
    if (t.kind !== 'ident' && t.kind !== 'qident') this.fail();
    const w = t.kind === 'ident' ? t.text.toUpperCase() : '';
    if (w === 'GLOBAL' || w === 'SESSION' || w === 'LOCAL' || w === 'PERSIST' || w === 'PERSIST_ONLY') {
      const next = this.peek(1);
      if (next.kind === 'ident' || next.kind === 'qident') {
        this.i++;
        const s: Scope = w === 'SESSION' || w === 'LOCAL' ? 'session' : 'global';
        setScope(s);
        return this.setItem(s, setScope);
      }
    }
    if (w === 'NAMES') {
      this.i++;
      const charset = this.acceptWord('DEFAULT') ? null : this.name();
      const collate = this.acceptWord('COLLATE') ? this.name() : null;
      return { target: 'names', charset, collate };
    }
    if ((w === 'CHARACTER' && this.isWord('SET', 1)) || w === 'CHARSET') {
      this.i += w === 'CHARSET' ? 1 : 2;
      const charset = this.acceptWord('DEFAULT') ? null : this.name();
      return { target: 'charset', charset };
    }
    this.i++;
    const name = this.dottedRest(t.text);
    this.assignOp();
    return { target: 'system', name, scope: current, expr: this.expr() };
  }

  /** `name` possibly followed by `.part` (component variables such as validate_password.length). */
  dottedRest(first: string): string {
    let name = first;
    while (this.isOp('.') && (this.peek(1).kind === 'ident' || this.peek(1).kind === 'qident')) {
      this.i++;
      name += `.${this.next().text}`;
    }
    return name;
  }

  assignOp(): void {
    if (!this.acceptOp('=') && !this.acceptOp(':=')) this.fail();
  }

  select(): Statement {
    const selectTok = this.next();
    // Options we can ignore for expression-only selects.
    while (this.acceptWord('SQL_NO_CACHE') || this.acceptWord('SQL_CACHE') || this.acceptWord('ALL') || this.acceptWord('DISTINCT') || this.acceptWord('SQL_CALC_FOUND_ROWS') || this.acceptWord('STRAIGHT_JOIN')) {
      /* skip */
    }
    if (this.isOp('*')) {
      this.i = this.tokens.indexOf(selectTok);
      return this.unsupported();
    }
    const items: SelectItem[] = [];
    for (;;) {
      const first = this.peek();
      const expr = this.expr();
      const last = this.tokens[this.i - 1]!;
      let name = this.sql.slice(first.start, last.end);
      if (this.acceptWord('AS')) {
        name = this.name();
      } else {
        const t = this.peek();
        if ((t.kind === 'ident' && !RESERVED_AFTER_EXPR.has(t.text.toUpperCase())) || t.kind === 'qident' || t.kind === 'string') {
          this.i++;
          name = t.text;
        }
      }
      items.push({ expr, name });
      if (!this.acceptOp(',')) break;
    }
    if (this.acceptWord('FROM')) {
      if (!this.acceptWord('DUAL')) {
        this.i = this.tokens.indexOf(selectTok);
        return this.unsupported();
      }
    }
    let limit: bigint | null = null;
    let offset = 0n;
    if (this.acceptWord('LIMIT')) {
      const a = this.integer();
      if (this.acceptOp(',')) {
        offset = a;
        limit = this.integer();
      } else {
        limit = a;
        if (this.acceptWord('OFFSET')) offset = this.integer();
      }
    }
    if (this.peek().kind === 'ident' && !this.isOp(';')) {
      // WHERE / ORDER BY / INTO / FOR UPDATE on a table-less select: let the primary (or the ERR) decide.
      this.i = this.tokens.indexOf(selectTok);
      return this.unsupported();
    }
    this.end();
    return { kind: 'select', items, limit, offset };
  }

  integer(): bigint {
    const t = this.next();
    if (t.kind !== 'number' || !/^[0-9]+$/.test(t.text)) this.fail(t);
    return BigInt(t.text);
  }

  show(): Statement {
    const showTok = this.next();
    const w = (k = 0): string => (this.peek(k).kind === 'ident' ? this.peek(k).text.toUpperCase() : '');
    let scope: Scope = 'session';
    if (w() === 'GLOBAL' || w() === 'SESSION' || w() === 'LOCAL') {
      scope = w() === 'GLOBAL' ? 'global' : 'session';
      if (w(1) === 'VARIABLES' || w(1) === 'STATUS') this.i++;
    }
    if (w() === 'VARIABLES' || w() === 'STATUS') {
      const status = w() === 'STATUS';
      this.i++;
      let like: string | null = null;
      let where: Expr | null = null;
      if (this.acceptWord('LIKE')) {
        const t = this.next();
        if (t.kind !== 'string') this.fail(t);
        like = t.text;
      } else if (this.acceptWord('WHERE')) {
        where = this.expr();
      }
      this.end();
      return { kind: 'show_variables', status, scope, like, where };
    }
    if (this.acceptWord('MASTER', 'STATUS')) return this.done({ kind: 'show_master_status', syntax: 'master' });
    if (this.acceptWord('BINARY', 'LOG', 'STATUS')) return this.done({ kind: 'show_master_status', syntax: 'binary_log' });
    if (this.acceptWord('BINLOG', 'STATUS')) return this.done({ kind: 'show_master_status', syntax: 'binlog' });
    if (this.acceptWord('BINARY', 'LOGS') || this.acceptWord('MASTER', 'LOGS')) return this.done({ kind: 'show_binary_logs' });
    if (this.acceptWord('SLAVE', 'HOSTS')) return this.done({ kind: 'show_slave_hosts', syntax: 'slave_hosts' });
    if (this.acceptWord('REPLICAS')) return this.done({ kind: 'show_slave_hosts', syntax: 'replicas' });
    if (this.acceptWord('SLAVE', 'STATUS')) return this.doneStatus('slave');
    if (this.acceptWord('REPLICA', 'STATUS')) return this.doneStatus('replica');
    if (this.acceptWord('ALL', 'SLAVES', 'STATUS') || this.acceptWord('ALL', 'REPLICAS', 'STATUS')) return this.doneStatus('all_slaves');
    if (this.acceptWord('PROCESSLIST')) return this.done({ kind: 'show_processlist', full: false });
    if (this.acceptWord('FULL', 'PROCESSLIST')) return this.done({ kind: 'show_processlist', full: true });
    if (this.acceptWord('WARNINGS')) return this.done({ kind: 'show_warnings', errors: false, count: false });
    if (this.acceptWord('ERRORS')) return this.done({ kind: 'show_warnings', errors: true, count: false });
    if (this.acceptWord('COUNT')) {
      this.expectOp('(');
      this.expectOp('*');
      this.expectOp(')');
      const errors = this.acceptWord('ERRORS');
      if (!errors) this.expectWord('WARNINGS');
      return this.done({ kind: 'show_warnings', errors, count: true });
    }
    this.i = this.tokens.indexOf(showTok);
    return this.unsupported();
  }

  /** SHOW SLAVE STATUS may name a channel: FOR CHANNEL 'x' (MySQL). */
  doneStatus(syntax: 'slave' | 'replica' | 'all_slaves'): Statement {
    if (this.acceptWord('FOR', 'CHANNEL')) this.name();
    return this.done({ kind: 'show_slave_status', syntax });
  }

  done(s: Statement): Statement {
    this.end();
    return s;
  }

  kill(): Statement {
    if (!this.acceptWord('HARD')) this.acceptWord('SOFT');
    let what: 'connection' | 'query' = 'connection';
    if (this.acceptWord('CONNECTION')) what = 'connection';
    else if (this.acceptWord('QUERY')) what = 'query';
    this.acceptWord('ID');
    const id = this.expr();
    this.end();
    return { kind: 'kill', what, id };
  }

  // ----- expressions ---------------------------------------------------------------------------------

  expr(): Expr {
    if (++this.depth > MAX_DEPTH) throw new SqlSyntaxError('expression nested too deeply', this.peek().start);
    try {
      return this.or();
    } finally {
      this.depth--;
    }
  }

  or(): Expr {
    let left = this.and();
    while (this.acceptWord('OR') || this.acceptOp('||')) left = { kind: 'binary', op: 'OR', left, right: this.and() };
    return left;
  }

  and(): Expr {
    let left = this.not();
    while (this.acceptWord('AND') || this.acceptOp('&&')) left = { kind: 'binary', op: 'AND', left, right: this.not() };
    return left;
  }

  not(): Expr {
    if (this.acceptWord('NOT')) {
      if (++this.depth > MAX_DEPTH) throw new SqlSyntaxError('expression nested too deeply', this.peek().start);
      try {
        return { kind: 'unary', op: 'NOT', expr: this.not() };
      } finally {
        this.depth--;
      }
    }
    return this.comparison();
  }

  comparison(): Expr {
    let left = this.additive();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'op' && ['=', '<=>', '<>', '!=', '<', '>', '<=', '>='].includes(t.text)) {
        this.i++;
        const op = (t.text === '!=' ? '<>' : t.text) as BinaryOp;
        left = { kind: 'binary', op, left, right: this.additive() };
        continue;
      }
      const not = this.isWord('NOT') && (this.isWord('LIKE', 1) || this.isWord('IN', 1));
      if (not) this.i++;
      if (this.acceptWord('LIKE')) {
        left = { kind: 'like', expr: left, pattern: this.additive(), not };
        continue;
      }
      if (this.acceptWord('IN')) {
        this.expectOp('(');
        const list: Expr[] = [this.expr()];
        while (this.acceptOp(',')) list.push(this.expr());
        this.expectOp(')');
        left = { kind: 'in', expr: left, list, not };
        continue;
      }
      if (not) this.fail();
      if (this.acceptWord('IS')) {
        const isNot = this.acceptWord('NOT');
        this.expectWord('NULL');
        left = { kind: 'is_null', expr: left, not: isNot };
        continue;
      }
      return left;
    }
  }

  additive(): Expr {
    let left = this.multiplicative();
    for (;;) {
      if (this.acceptOp('+')) left = { kind: 'binary', op: '+', left, right: this.multiplicative() };
      else if (this.acceptOp('-')) left = { kind: 'binary', op: '-', left, right: this.multiplicative() };
      else return left;
    }
  }

  multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      if (this.acceptOp('*')) left = { kind: 'binary', op: '*', left, right: this.unary() };
      else if (this.acceptOp('/')) left = { kind: 'binary', op: '/', left, right: this.unary() };
      else if (this.acceptOp('%') || this.acceptWord('MOD')) left = { kind: 'binary', op: '%', left, right: this.unary() };
      else if (this.acceptWord('DIV')) left = { kind: 'binary', op: 'DIV', left, right: this.unary() };
      else return left;
    }
  }

  unary(): Expr {
    if (++this.depth > MAX_DEPTH) throw new SqlSyntaxError('expression nested too deeply', this.peek().start);
    try {
      return this.unaryInner();
    } finally {
      this.depth--;
    }
  }

  unaryInner(): Expr {
    if (this.acceptOp('-')) return { kind: 'unary', op: '-', expr: this.unary() };
    if (this.acceptOp('+')) return { kind: 'unary', op: '+', expr: this.unary() };
    if (this.acceptOp('!')) return { kind: 'unary', op: 'NOT', expr: this.unary() };
    if (this.acceptOp('~')) return { kind: 'unary', op: '~', expr: this.unary() };
    return this.primary();
  }

  primary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case 'number':
        return { kind: 'literal', value: numberLiteral(t.text) };
      case 'string': {
        // Adjacent strings concatenate: 'a' 'b' = 'ab'.
        let text = t.text;
        while (this.peek().kind === 'string') text += this.next().text;
        return { kind: 'literal', value: { value: text, kind: 'string' } };
      }
      case 'uservar':
        return { kind: 'uservar', name: t.text };
      case 'sysvar':
        return { kind: 'sysvar', name: this.dottedRest(t.text), scope: t.scope ?? null };
      case 'op':
        if (t.text === '(') {
          const e = this.expr();
          this.expectOp(')');
          return e;
        }
        return this.fail(t);
      case 'qident':
        return { kind: 'column', name: t.text };
      case 'ident': {
        const w = t.text.toUpperCase();
        if (this.isOp('(')) {
          this.i++;
          const args: Expr[] = [];
          if (!this.acceptOp(')')) {
            args.push(this.expr());
            while (this.acceptOp(',')) args.push(this.expr());
            this.expectOp(')');
          }
          return { kind: 'call', name: t.text.toLowerCase(), args };
        }
        if (w === 'NULL') return { kind: 'literal', value: NULL_VALUE };
        if (w === 'TRUE') return { kind: 'literal', value: { value: 1n, kind: 'int' } };
        if (w === 'FALSE') return { kind: 'literal', value: { value: 0n, kind: 'int' } };
        if (w === 'DEFAULT') return { kind: 'default' };
        // Niladic functions written without parentheses.
        if (w === 'CURRENT_USER' || w === 'CURRENT_TIMESTAMP' || w === 'LOCALTIME' || w === 'LOCALTIMESTAMP' || w === 'CURRENT_DATE' || w === 'CURRENT_TIME' || w === 'UTC_TIMESTAMP') {
          return { kind: 'call', name: w.toLowerCase(), args: [] };
        }
        if (w === 'BINARY' && this.peek().kind !== 'eof' && !this.isOp(',') && !this.isOp(')')) {
          return this.unary();
        }
        return { kind: 'column', name: this.dottedRest(t.text) };
      }
      default:
        return this.fail(t);
    }
  }
}

function numberLiteral(text: string): TypedValue {
  if (/^0[xX]/.test(text)) return { value: BigInt(text), kind: 'int' };
  if (/^[0-9]+$/.test(text)) {
    const v = BigInt(text);
    return { value: v, kind: v > 0x7fffffffffffffffn ? 'uint' : 'int' };
  }
  return { value: text, kind: 'decimal' };
}

/**
 * Parses one statement. Throws SqlSyntaxError (offset in `sql`) when it does not parse, except for a
 * read-only statement we could not parse (e.g. `SELECT COUNT(*) FROM t`): that is classified as unsupported
 * with `syntaxAt`, so passthrough can still send it to the primary.
 */
export function parseStatement(sql: string): Statement {
  const tokens = tokenize(sql);
  const parser = new Parser(sql, tokens);
  try {
    return parser.statement();
  } catch (err) {
    const first = tokens[0]!;
    if (!(err instanceof SqlSyntaxError) || first.kind !== 'ident' || !READ_ONLY_VERBS.has(first.text.toUpperCase())) throw err;
    const classified = new Parser(sql, tokens).unsupported();
    return { ...classified, syntaxAt: err.at } as Statement;
  }
}
