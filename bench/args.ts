/** Command-line options of the bench scripts (`--name value`). */

export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** A positive number (with `integer`, a positive integer), or `dflt` when the option is absent. */
export function argNumber(name: string, dflt: number, integer = false): number {
  const v = argValue(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (integer ? !Number.isInteger(n) || n <= 0 : !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive ${integer ? 'integer' : 'number'}`);
  return n;
}
