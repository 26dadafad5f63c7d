/**
 * Protection of the syncer password stored in etcd (a new leader needs it to reconnect to the primary).
 *
 * - The password is never logged: records are logged through `describeIntent`, which leaves it out, and
 *   no message is built from it.
 * - With a cluster secret (the same on every node), the password is sealed with AES-256-GCM under a key
 *   derived from the secret by HKDF-SHA256; the etcd key name is the additional authenticated data, so a
 *   sealed value copied to another key does not open. Anyone who can read etcd (or its snapshots and
 *   backups) then sees only ciphertext.
 * - Without a secret it is stored as is: etcd MUST then be access-controlled (client TLS and etcd
 *   authentication with a role limited to the cluster prefix), exactly like the config file that holds
 *   the same password.
 *
 * Sealed form (JSON):  {"alg":"aes-256-gcm","iv":<12 bytes b64>,"tag":<16 bytes b64>,"data":<b64>}
 * Plain form (JSON):   {"alg":"plain","value":"<password>"}
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ValidationError } from '../config/validate.js';
import { ClusterError } from './errors.js';

export type SealedSecret =
  | { alg: 'plain'; value: string }
  | { alg: 'aes-256-gcm'; iv: string; tag: string; data: string };

const KEY_SALT = Buffer.from('binlog-proxy cluster secret', 'utf8');
const KEY_INFO = Buffer.from('syncer password v1', 'utf8');
export const MIN_SECRET_LENGTH = 16;

export class SecretBox {
  private readonly key: Buffer | null;

  /** `secret`: the cluster secret shared by every node, or null to store passwords unsealed. */
  constructor(secret: string | null) {
    if (secret !== null && secret.length < MIN_SECRET_LENGTH) {
      throw new ValidationError('cluster.secret', `cluster.secret must be at least ${MIN_SECRET_LENGTH} characters`);
    }
    this.key = secret === null ? null : Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), KEY_SALT, KEY_INFO, 32));
  }

  get sealing(): boolean {
    return this.key !== null;
  }

  seal(plain: string, aad: string): SealedSecret {
    if (this.key === null) return { alg: 'plain', value: plain };
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return { alg: 'aes-256-gcm', iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  open(sealed: SealedSecret, aad: string): string {
    if (sealed.alg === 'plain') return sealed.value;
    if (this.key === null) {
      throw new ClusterError('ERR_CLUSTER_SECRET', 'the stored syncer password is sealed but this node has no cluster secret configured');
    }
    const iv = Buffer.from(sealed.iv, 'base64');
    const tag = Buffer.from(sealed.tag, 'base64');
    if (iv.length !== 12 || tag.length !== 16) {
      throw new ClusterError('ERR_CLUSTER_STATE', 'the stored syncer password has a malformed iv or tag');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new ClusterError(
        'ERR_CLUSTER_SECRET',
        'the stored syncer password does not decrypt with this node\'s cluster secret (different secret on the writing node?)',
        { cause: err },
      );
    }
  }
}
