import { ValidationError } from '../config/validate.js';

/** The body must be a JSON object (not missing, null, an array or a scalar). */
export function requireJsonObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) throw new ValidationError('body', 'a JSON object body is required');
  if (typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('body', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** kingbus' success envelope. */
export function success<T>(data: T): { message: 'success'; data: T } {
  return { message: 'success', data };
}
