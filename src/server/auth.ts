/**
 * The accounts replicas log in with. From each configured password we keep only the two one-way hashes
 * the plugins verify against, never the password itself:
 *   mysql_native_password   H2 = SHA1(SHA1(pw))         (also the input of MariaDB 11.4's TLS proof)
 *   caching_sha2_password   stage2 = SHA256(SHA256(pw))  (fast path; full auth re-derives it from the
 *                                                        clear or RSA-decrypted password)
 * All comparisons are constant-time (crypto.timingSafeEqual, inside protocol/auth.ts for the scrambles).
 *
 * Accounts without a password exist only when `allowEmptyPassword` is set; with that option and no
 * accounts at all, any user name logs in with an empty password.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  cachingSha2Stage2,
  isEmptyAuthReply,
  nativePasswordHash,
  verifyCachingSha2,
  verifyNativePassword,
} from '../../protocol/auth.js';
import { CACHING_SHA2_PASSWORD, MYSQL_NATIVE_PASSWORD } from '../../protocol/constants.js';
import { ServerError } from './errors.js';

export type AuthPlugin = typeof MYSQL_NATIVE_PASSWORD | typeof CACHING_SHA2_PASSWORD;

export const SUPPORTED_PLUGINS: readonly string[] = [MYSQL_NATIVE_PASSWORD, CACHING_SHA2_PASSWORD];

export function isSupportedPlugin(name: string | null): name is AuthPlugin {
  return name !== null && SUPPORTED_PLUGINS.includes(name);
}

export interface AccountInit {
  user: string;
  password: string;
  /**
   * caching_sha2_password: never take the fast path for this account; always ask for the password through
   * TLS or the RSA exchange (what a real MySQL source does with a cold cache).
   */
  forceFullAuth?: boolean;
}

export interface Account {
  readonly user: string;
  /** H2; empty for an account without password. */
  readonly nativeHash: Buffer;
  /** stage2; empty for an account without password. */
  readonly sha2Stage2: Buffer;
  readonly forceFullAuth: boolean;
  /** False for the stand-in used for unknown users (it never authenticates). */
  readonly real: boolean;
}

export interface UserRegistryOptions {
  allowEmptyPassword?: boolean;
  /** Accounts (by name) that always take caching_sha2 full authentication. */
  forceFullAuth?: boolean | readonly string[];
}

export class UserRegistry {
  private readonly accounts = new Map<string, Account>();
  private readonly anyUserWithoutPassword: boolean;
  /** An account nobody can log in to, used for unknown users so that they go through the same steps. */
  private readonly nobody: Account = {
    user: '',
    nativeHash: randomBytes(20),
    sha2Stage2: randomBytes(32),
    forceFullAuth: false,
    real: false,
  };

  constructor(users: readonly AccountInit[], opts: UserRegistryOptions = {}) {
    const allowEmpty = opts.allowEmptyPassword ?? false;
    const forced = opts.forceFullAuth ?? false;
    for (const u of users) {
      if (u.user.length === 0) throw new ServerError('ERR_INVALID_INPUT', 'a replica account needs a user name');
      if (this.accounts.has(u.user)) throw new ServerError('ERR_INVALID_INPUT', `user '${u.user}' is listed twice`);
      if (u.password.length === 0 && !allowEmpty) {
        throw new ServerError(
          'ERR_INVALID_INPUT',
          `user '${u.user}' has an empty password; replicas must authenticate (set allow_empty_password to allow it)`,
        );
      }
      const forceFullAuth = u.forceFullAuth ?? (forced === true || (Array.isArray(forced) && forced.includes(u.user)));
      this.accounts.set(u.user, {
        user: u.user,
        nativeHash: nativePasswordHash(u.password),
        sha2Stage2: cachingSha2Stage2(u.password),
        forceFullAuth,
        real: true,
      });
    }
    if (this.accounts.size === 0 && !allowEmpty) {
      throw new ServerError('ERR_INVALID_INPUT', 'at least one replica account is required (replicas must authenticate)');
    }
    this.anyUserWithoutPassword = this.accounts.size === 0 && allowEmpty;
  }

  /** The account for `user`, or a stand-in that never authenticates (same code path, no user enumeration). */
  lookup(user: string): Account {
    const a = this.accounts.get(user);
    if (a) return a;
    if (this.anyUserWithoutPassword) {
      return { user, nativeHash: Buffer.alloc(0), sha2Stage2: Buffer.alloc(0), forceFullAuth: false, real: true };
    }
    return this.nobody;
  }

  names(): string[] {
    return [...this.accounts.keys()];
  }
}

/** True when the account has no password. */
export function hasEmptyPassword(a: Account): boolean {
  return a.real && a.nativeHash.length === 0;
}

/** Checks a scramble made with `nonce` by `plugin`. */
export function verifyScramble(a: Account, plugin: AuthPlugin, reply: Buffer, nonce: Buffer): boolean {
  if (!a.real) {
    // Same work as a real check, then refuse.
    if (plugin === MYSQL_NATIVE_PASSWORD) verifyNativePassword(reply, nonce, a.nativeHash);
    else verifyCachingSha2(reply, nonce, a.sha2Stage2);
    return false;
  }
  return plugin === MYSQL_NATIVE_PASSWORD ? verifyNativePassword(reply, nonce, a.nativeHash) : verifyCachingSha2(reply, nonce, a.sha2Stage2);
}

/** Checks a password received in clear (over TLS) or decrypted from the RSA exchange. */
export function verifyClearPassword(a: Account, password: Buffer): boolean {
  const expected = a.sha2Stage2;
  if (expected.length === 0) return a.real && password.length === 0;
  if (password.length === 0) return false;
  const ok = timingSafeEqual(cachingSha2Stage2(password), expected);
  return a.real && ok;
}

/** True when the client sent no password at all. */
export function isEmptyReply(reply: Buffer): boolean {
  return isEmptyAuthReply(reply);
}
