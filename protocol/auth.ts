/**
 * Password scrambles of the two authentication plugins we speak (§1.6), both directions.
 *
 * mysql_native_password (20-byte reply):
 *   H1 = SHA1(pw), H2 = SHA1(H1)                      stored credential: H2 ("*" + 40 uppercase hex)
 *   reply = H1 XOR SHA1(nonce ‖ H2)
 *   server: candidate = reply XOR SHA1(nonce ‖ H2); accept iff SHA1(candidate) == H2
 *
 * caching_sha2_password (32-byte reply):
 *   stage1 = SHA256(pw), stage2 = SHA256(stage1)      stored credential: stage2
 *   reply = stage1 XOR SHA256(stage2 ‖ nonce)          (the nonce comes AFTER stage2)
 *   server: candidate = reply XOR SHA256(stage2 ‖ nonce); accept iff SHA256(candidate) == stage2
 *   full authentication without TLS: RSA-OAEP(SHA-1) of ((pw ‖ 0x00) XOR nonce repeated)
 *
 * Empty password: the client sends no bytes (some send a single 0x00); accepted only for an account
 * whose password is empty. `nonce` is always the 20 bytes without the NUL the greeting appends.
 */
import { constants, createHash, privateDecrypt, publicEncrypt, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from './errors.js';

type Password = string | Buffer;

function bytesOf(password: Password): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** An empty auth reply: no bytes, or the single 0x00 some clients send. */
export function isEmptyAuthReply(reply: Buffer): boolean {
  return reply.length === 0 || (reply.length === 1 && reply[0] === 0);
}

// ---------------------------------------------------------------------------------------------------
// mysql_native_password
// ---------------------------------------------------------------------------------------------------

export const NATIVE_PASSWORD_HASH_LENGTH = 20;

/** The client's reply to `nonce`; empty for an empty password. */
export function scrambleNativePassword(password: Password, nonce: Buffer): Buffer {
  const pw = bytesOf(password);
  if (pw.length === 0) return Buffer.alloc(0);
  const h1 = sha1(pw);
  return xor(h1, sha1(nonce, sha1(h1)));
}

/** H2 = SHA1(SHA1(password)), the credential MySQL stores; empty for an empty password. */
export function nativePasswordHash(password: Password): Buffer {
  const pw = bytesOf(password);
  if (pw.length === 0) return Buffer.alloc(0);
  return sha1(sha1(pw));
}

/** Parses MySQL's `*` + 40 hex digits form of H2 (an empty string means an empty password). */
export function parseNativePasswordHash(text: string): Buffer {
  if (text === '') return Buffer.alloc(0);
  if (!/^\*[0-9a-fA-F]{40}$/.test(text)) {
    throw new ProtocolError('ERR_MALFORMED', 'a mysql_native_password hash is "*" followed by 40 hex digits');
  }
  return Buffer.from(text.slice(1), 'hex');
}

/** The `*` + 40 uppercase hex form of H2. */
export function formatNativePasswordHash(h2: Buffer): string {
  return h2.length === 0 ? '' : `*${h2.toString('hex').toUpperCase()}`;
}

/**
 * Checks a mysql_native_password reply against the stored H2 (empty H2 = account without password).
 * Constant-time comparison of the digests.
 */
export function verifyNativePassword(reply: Buffer, nonce: Buffer, h2: Buffer): boolean {
  if (h2.length === 0) return isEmptyAuthReply(reply);
  if (reply.length !== NATIVE_PASSWORD_HASH_LENGTH || h2.length !== NATIVE_PASSWORD_HASH_LENGTH) return false;
  const candidate = xor(reply, sha1(nonce, h2));
  return timingSafeEqual(sha1(candidate), h2);
}

// ---------------------------------------------------------------------------------------------------
// caching_sha2_password
// ---------------------------------------------------------------------------------------------------

export const CACHING_SHA2_DIGEST_LENGTH = 32;

/** The client's fast-path reply to `nonce`; empty for an empty password. */
export function scrambleCachingSha2(password: Password, nonce: Buffer): Buffer {
  const pw = bytesOf(password);
  if (pw.length === 0) return Buffer.alloc(0);
  const stage1 = sha256(pw);
  return xor(stage1, sha256(sha256(stage1), nonce));
}

/** stage2 = SHA256(SHA256(password)): enough to verify a fast-path reply; empty for an empty password. */
export function cachingSha2Stage2(password: Password): Buffer {
  const pw = bytesOf(password);
  if (pw.length === 0) return Buffer.alloc(0);
  return sha256(sha256(pw));
}

/** Checks a caching_sha2_password fast-path reply against stage2 (empty stage2 = no password). */
export function verifyCachingSha2(reply: Buffer, nonce: Buffer, stage2: Buffer): boolean {
  if (stage2.length === 0) return isEmptyAuthReply(reply);
  if (reply.length !== CACHING_SHA2_DIGEST_LENGTH || stage2.length !== CACHING_SHA2_DIGEST_LENGTH) return false;
  const candidate = xor(reply, sha256(stage2, nonce));
  return timingSafeEqual(sha256(candidate), stage2);
}

/** XOR of `data` with `nonce` repeated over its length (symmetric: applies and removes the mask). */
export function xorPassword(data: Buffer, nonce: Buffer): Buffer {
  if (nonce.length === 0) throw new RangeError('xorPassword needs a non-empty nonce');
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ nonce[i % nonce.length]!;
  return out;
}

function withNul(password: Password): Buffer {
  const pw = bytesOf(password);
  const out = Buffer.alloc(pw.length + 1);
  pw.copy(out);
  return out;
}

/** Full authentication without TLS: RSA-OAEP (SHA-1) of (password ‖ 0x00) XOR nonce. */
export function encryptPasswordRsa(password: Password, nonce: Buffer, publicKeyPem: string | Buffer): Buffer {
  return publicEncrypt(
    { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    xorPassword(withNul(password), nonce),
  );
}

/** Server side of `encryptPasswordRsa`: returns the password bytes (without the NUL). */
export function decryptPasswordRsa(ciphertext: Buffer, nonce: Buffer, privateKeyPem: string | Buffer): Buffer {
  let plain: Buffer;
  try {
    plain = privateDecrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ciphertext);
  } catch (cause) {
    throw new ProtocolError('ERR_MALFORMED', 'RSA-encrypted password does not decrypt', { cause });
  }
  return decodeClearPassword(xorPassword(plain, nonce));
}

/** Full authentication over TLS: the password in clear followed by 0x00. */
export function encodeClearPassword(password: Password): Buffer {
  return withNul(password);
}

/** Reads `password ‖ 0x00` (the NUL is required). */
export function decodeClearPassword(data: Buffer): Buffer {
  if (data.length === 0 || data[data.length - 1] !== 0) {
    throw new ProtocolError('ERR_MALFORMED', 'clear-text password is not NUL-terminated');
  }
  return data.subarray(0, data.length - 1);
}

// ---------------------------------------------------------------------------------------------------
// MariaDB 11.4+ zero-configuration TLS
// ---------------------------------------------------------------------------------------------------

/**
 * The OK-packet info field that proves to a MariaDB 11.4+ client (MDEV-31855) that the server holding
 * this TLS certificate also knows the password hash: 0x01 followed by the uppercase hex of
 * SHA256(passwordHash ‖ scramble ‖ SHA256(leaf certificate DER)). For mysql_native_password,
 * passwordHash is the 20-byte binary H2.
 *
 * (verify) against a real 11.4 replica: the input order (rust_mysql_common hashes hash ‖ scramble ‖
 * fingerprint, while the MDEV-31855 commit message lists scramble first), that the fingerprint is the
 * SHA-256 of the DER certificate, the hex casing, and the 0x01 marker in the info field.
 */
export function mariadbTlsFingerprintProof(passwordHashH2: Buffer, scramble: Buffer, certDer: Buffer): Buffer {
  const digest = sha256(passwordHashH2, scramble, sha256(certDer));
  return Buffer.concat([Buffer.from([0x01]), Buffer.from(digest.toString('hex').toUpperCase(), 'latin1')]);
}
