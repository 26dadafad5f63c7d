/**
 * One Ajv instance configured to reject rather than repair: no type coercion, no removal of unknown
 * properties, no defaults injected. Errors name the offending field with a dotted path.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { BinlogProxyError } from '../../protocol/errors.js';

export const ajv = new Ajv({
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  allErrors: false,
  strict: true,
  allowUnionTypes: true,
});

export class ValidationError extends BinlogProxyError {
  /** Dotted path of the offending field ('' for the whole document). */
  readonly field: string;

  constructor(field: string, message: string) {
    super('ERR_INVALID_INPUT', message);
    this.field = field;
  }
}

const cache = new WeakMap<object, ValidateFunction>();

/** Validates `value` against `schema`; throws ValidationError naming the field (prefixed with `root`). */
export function validate<T>(schema: object, value: unknown, root = ''): T {
  let fn = cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  if (!fn(value)) {
    const err = pickError(fn.errors ?? []);
    const field = joinPath(root, err ? instancePathToField(err) : '');
    throw new ValidationError(field, describe(field, err));
  }
  return value as T;
}

/**
 * Among oneOf branches Ajv reports every branch; prefer the error deepest in the document, and at equal depth
 * a constraint on a value that is there (minimum, pattern) over a branch's shape (required, unknown field).
 */
function pickError(errors: ErrorObject[]): ErrorObject | undefined {
  let best: ErrorObject | undefined;
  let bestScore = -1;
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    const depth = e.instancePath === '' ? 0 : e.instancePath.split('/').length - 1;
    const shape = e.keyword === 'required' || e.keyword === 'additionalProperties' || e.keyword === 'type' || e.keyword === 'enum';
    const score = depth * 2 + (shape ? 0 : 1);
    if (score > bestScore) {
      best = e;
      bestScore = score;
    }
  }
  return best ?? errors[0];
}

function instancePathToField(e: ErrorObject): string {
  const base = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  if (e.keyword === 'required') return joinPath(base, String((e.params as { missingProperty: string }).missingProperty));
  if (e.keyword === 'additionalProperties') {
    return joinPath(base, String((e.params as { additionalProperty: string }).additionalProperty));
  }
  return base;
}

function joinPath(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  return `${a}.${b}`;
}

function describe(field: string, e: ErrorObject | undefined): string {
  const name = field || 'body';
  if (!e) return `${name} is invalid`;
  switch (e.keyword) {
    case 'required':
      return `${name} is required`;
    case 'additionalProperties':
      return `${name} is not a known field`;
    case 'type':
      return `${name} must be of type ${(e.params as { type: string }).type}`;
    case 'enum':
      return `${name} must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern':
      return `${name} has an invalid format${hint(name)}`;
    default:
      return `${name} ${e.message ?? 'is invalid'}`;
  }
}

function hint(field: string): string {
  if (/addr|listen/.test(field)) return ' (expected host:port, IPv6 as [::1]:3306)';
  if (/uuid/.test(field)) return ' (expected a UUID like 3e11fa47-71ca-11e1-9e33-c80aa9429562)';
  if (/maxAge|Timeout|Interval|Delay|ttl/i.test(field)) return ' (expected a duration like 500ms, 30s, 7d)';
  if (/maxSize|readCache/.test(field)) return ' (expected a size like 512MiB or 50GiB)';
  return '';
}
