/**
 * SQL LIKE: '%' matches any run of characters, '_' exactly one, '\' escapes the next character. Matching
 * is case-insensitive, as SHOW VARIABLES LIKE is (variable names use a case-insensitive collation).
 * Implemented as a linear-time two-pointer match with backtracking to the last '%' (no regular
 * expressions, so a hostile pattern cannot blow up).
 */

type Piece = { kind: 'any' } | { kind: 'one' } | { kind: 'char'; c: string };

function compile(pattern: string): Piece[] {
  const out: Piece[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      out.push({ kind: 'char', c: pattern[++i]!.toLowerCase() });
    } else if (c === '%') {
      if (out[out.length - 1]?.kind !== 'any') out.push({ kind: 'any' });
    } else if (c === '_') {
      out.push({ kind: 'one' });
    } else {
      out.push({ kind: 'char', c: c.toLowerCase() });
    }
  }
  return out;
}

export function sqlLike(value: string, pattern: string): boolean {
  const p = compile(pattern);
  const s = [...value.toLowerCase()];
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const piece = p[pi];
    if (piece && (piece.kind === 'one' || (piece.kind === 'char' && piece.c === s[si]))) {
      si++;
      pi++;
    } else if (piece && piece.kind === 'any') {
      starP = pi++;
      starS = si;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (p[pi]?.kind === 'any') pi++;
  return pi === p.length;
}
