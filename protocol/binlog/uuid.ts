/** 16-byte server UUIDs as MySQL prints them: lowercase 8-4-4-4-12. */
import { ProtocolError } from '../errors.js';

export const UUID_BYTES = 16;

export function uuidFromBytes(buf: Buffer, offset = 0): string {
  if (offset < 0 || offset + UUID_BYTES > buf.length) {
    throw new ProtocolError('ERR_TRUNCATED', `truncated UUID at offset ${offset}`);
  }
  const h = buf.toString('hex', offset, offset + UUID_BYTES);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new ProtocolError('ERR_GTID_SYNTAX', `invalid UUID '${uuid}'`);
  return Buffer.from(hex, 'hex');
}
