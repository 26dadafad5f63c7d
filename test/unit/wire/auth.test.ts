import { describe, it, expect } from 'vitest';
import { createHash, generateKeyPairSync, privateDecrypt, publicEncrypt, constants, randomBytes } from 'node:crypto';
import {
  cachingSha2Stage2,
  decodeClearPassword,
  decryptPasswordRsa,
  encodeClearPassword,
  encryptPasswordRsa,
  formatNativePasswordHash,
  mariadbTlsFingerprintProof,
  nativePasswordHash,
  parseNativePasswordHash,
  scrambleCachingSha2,
  scrambleNativePassword,
  verifyCachingSha2,
  verifyNativePassword,
  xorPassword,
} from '../../../protocol/auth.js';
import { generateNonce } from '../../../protocol/handshake.js';
import { ProtocolError } from '../../../protocol/errors.js';

// Reference computations written out here with node:crypto, independently of protocol/auth.ts.
const sha1 = (...b: Buffer[]): Buffer => b.reduce((h, x) => h.update(x), createHash('sha1')).digest();
const sha256 = (...b: Buffer[]): Buffer => b.reduce((h, x) => h.update(x), createHash('sha256')).digest();
const xorBytes = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((v, i) => v ^ b[i]!));

// 20 nonce bytes as a MariaDB 10.11 server sent them in an AuthSwitchRequest.
const NONCE = Buffer.from('37516e574b4f2a2579557a2752474c28226f2d2f', 'hex');

describe('mysql_native_password', () => {
  it('computes the stored hash H2 like PASSWORD() did', () => {
    // Well-known value of MySQL's PASSWORD('password').
    expect(formatNativePasswordHash(nativePasswordHash('password'))).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
    // Captured from a MariaDB 10.11 server: CREATE USER ... IDENTIFIED BY 'secret'.
    expect(formatNativePasswordHash(nativePasswordHash('secret'))).toBe('*14E65567ABDB5135D0CFD9A70B3032C179A49EE7');
    expect(parseNativePasswordHash('*14e65567abdb5135d0cfd9a70b3032c179a49ee7').equals(sha1(sha1(Buffer.from('secret'))))).toBe(true);
  });

  it('rejects malformed hash text', () => {
    expect(() => parseNativePasswordHash('14E65567ABDB5135D0CFD9A70B3032C179A49EE7')).toThrow(ProtocolError);
    expect(() => parseNativePasswordHash('*14E6')).toThrow(ProtocolError);
    expect(parseNativePasswordHash('').length).toBe(0);
  });

  it('scrambles as SHA1(pw) XOR SHA1(nonce ‖ SHA1(SHA1(pw)))', () => {
    for (const pw of ['secret', 'pässwörd', 'x'.repeat(100)]) {
      const nonce = randomBytes(20);
      const h1 = sha1(Buffer.from(pw, 'utf8'));
      const expected = xorBytes(h1, sha1(nonce, sha1(h1)));
      expect(scrambleNativePassword(pw, nonce).equals(expected)).toBe(true);
      expect(scrambleNativePassword(Buffer.from(pw, 'utf8'), nonce).equals(expected)).toBe(true);
    }
  });

  it('matches a reply captured from a real client exchange', () => {
    // The reply our capture client computed for 'secret' and accepted by MariaDB 10.11 (OK came back).
    const nonce = Buffer.from('2957593a54792752' + '46497c546d4a684c2265596d', 'hex');
    expect(scrambleNativePassword('secret', nonce).toString('hex')).toBe('be5b8854fa4b6862807a28d34613a84cb7929be9');
  });

  it('verifies the right password and rejects others', () => {
    const h2 = nativePasswordHash('secret');
    const nonce = generateNonce();
    const h1 = sha1(Buffer.from('secret'));
    const reply = xorBytes(h1, sha1(nonce, sha1(h1)));
    expect(verifyNativePassword(reply, nonce, h2)).toBe(true);
    expect(verifyNativePassword(reply, generateNonce(), h2)).toBe(false);
    const flipped = Buffer.from(reply);
    flipped[7]! ^= 1;
    expect(verifyNativePassword(flipped, nonce, h2)).toBe(false);
    expect(verifyNativePassword(reply.subarray(0, 19), nonce, h2)).toBe(false);
    expect(verifyNativePassword(Buffer.alloc(0), nonce, h2)).toBe(false);
    expect(verifyNativePassword(Buffer.from([0]), nonce, h2)).toBe(false);
  });

  it('handles empty passwords: empty reply or a single 0x00, only for an empty hash', () => {
    expect(scrambleNativePassword('', NONCE).length).toBe(0);
    expect(nativePasswordHash('').length).toBe(0);
    const empty = Buffer.alloc(0);
    expect(verifyNativePassword(Buffer.alloc(0), NONCE, empty)).toBe(true);
    expect(verifyNativePassword(Buffer.from([0]), NONCE, empty)).toBe(true);
    expect(verifyNativePassword(scrambleNativePassword('x', NONCE), NONCE, empty)).toBe(false);
  });
});

describe('caching_sha2_password', () => {
  it('scrambles as SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) ‖ nonce)', () => {
    for (const pw of ['secret', 'pässwörd', 'y'.repeat(300)]) {
      const nonce = randomBytes(20);
      const s1 = sha256(Buffer.from(pw, 'utf8'));
      const expected = xorBytes(s1, sha256(sha256(s1), nonce));
      expect(scrambleCachingSha2(pw, nonce).equals(expected)).toBe(true);
      expect(cachingSha2Stage2(pw).equals(sha256(s1))).toBe(true);
    }
  });

  it('verifies the fast-path reply against stage2', () => {
    const nonce = generateNonce();
    const s1 = sha256(Buffer.from('secret'));
    const stage2 = sha256(s1);
    const reply = xorBytes(s1, sha256(stage2, nonce));
    expect(verifyCachingSha2(reply, nonce, stage2)).toBe(true);
    expect(verifyCachingSha2(reply, generateNonce(), stage2)).toBe(false);
    // The nonce goes after stage2: the other order must not verify.
    expect(verifyCachingSha2(xorBytes(s1, sha256(nonce, stage2)), nonce, stage2)).toBe(false);
    expect(verifyCachingSha2(reply.subarray(1), nonce, stage2)).toBe(false);
    expect(verifyCachingSha2(Buffer.alloc(0), nonce, stage2)).toBe(false);
  });

  it('handles empty passwords', () => {
    expect(scrambleCachingSha2('', NONCE).length).toBe(0);
    expect(cachingSha2Stage2('').length).toBe(0);
    expect(verifyCachingSha2(Buffer.alloc(0), NONCE, Buffer.alloc(0))).toBe(true);
    expect(verifyCachingSha2(Buffer.from([0]), NONCE, Buffer.alloc(0))).toBe(true);
    expect(verifyCachingSha2(scrambleCachingSha2('x', NONCE), NONCE, Buffer.alloc(0))).toBe(false);
  });

  it('xorPassword repeats the nonce over the data', () => {
    const data = Buffer.from('a-password-longer-than-the-nonce\0');
    const nonce = Buffer.from('0123456789abcdefghij');
    const expected = Buffer.from(data.map((v, i) => v ^ nonce[i % 20]!));
    expect(xorPassword(data, nonce).equals(expected)).toBe(true);
    expect(xorPassword(expected, nonce).equals(data)).toBe(true);
  });

  describe('RSA full authentication', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const nonce = generateNonce();

    it('encrypts (pw ‖ 0) XOR nonce with RSA-OAEP SHA-1', () => {
      const ct = encryptPasswordRsa('secret', nonce, publicKey);
      expect(ct.length).toBe(256);
      const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ct);
      const unmasked = Buffer.from(plain.map((v, i) => v ^ nonce[i % nonce.length]!));
      expect(unmasked.toString('latin1')).toBe('secret\0');
    });

    it('decrypts what a client encrypted independently', () => {
      const pw = Buffer.from('pässwörd-über-20-bytes-lang\0', 'utf8');
      const masked = Buffer.from(pw.map((v, i) => v ^ nonce[i % nonce.length]!));
      const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, masked);
      expect(decryptPasswordRsa(ct, nonce, privateKey).toString('utf8')).toBe('pässwörd-über-20-bytes-lang');
    });

    it('round-trips, including the empty password', () => {
      for (const pw of ['', 'secret', 'z'.repeat(150)]) {
        expect(decryptPasswordRsa(encryptPasswordRsa(pw, nonce, publicKey), nonce, privateKey).toString('utf8')).toBe(pw);
      }
    });

    it('turns undecryptable input into ProtocolError', () => {
      expect(() => decryptPasswordRsa(randomBytes(256), nonce, privateKey)).toThrow(ProtocolError);
      expect(() => decryptPasswordRsa(Buffer.alloc(3), nonce, privateKey)).toThrow(ProtocolError);
    });
  });

  it('encodes and decodes the clear-text password sent over TLS', () => {
    expect(encodeClearPassword('secret').toString('latin1')).toBe('secret\0');
    expect(decodeClearPassword(Buffer.from('secret\0')).toString()).toBe('secret');
    expect(() => decodeClearPassword(Buffer.from('secret'))).toThrow(ProtocolError);
    expect(() => decodeClearPassword(Buffer.alloc(0))).toThrow(ProtocolError);
  });
});

describe('nonce', () => {
  it('is 20 printable bytes without NUL or "$", and differs each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const n = generateNonce();
      expect(n.length).toBe(20);
      for (const b of n) {
        expect(b).toBeGreaterThanOrEqual(0x21);
        expect(b).toBeLessThanOrEqual(0x7e);
        expect(b).not.toBe(0x24);
      }
      seen.add(n.toString('hex'));
    }
    expect(seen.size).toBe(200);
  });
});

describe('MariaDB zero-config TLS proof', () => {
  it('is 0x01 + uppercase hex of SHA256(H2 ‖ scramble ‖ SHA256(cert DER))', () => {
    const h2 = nativePasswordHash('secret');
    const certDer = randomBytes(600); // any bytes: the proof hashes the DER, it does not parse it
    const expected = sha256(h2, NONCE, sha256(certDer)).toString('hex').toUpperCase();
    const info = mariadbTlsFingerprintProof(h2, NONCE, certDer);
    expect(info[0]).toBe(0x01);
    expect(info.subarray(1).toString('latin1')).toBe(expected);
    expect(info.length).toBe(65);
  });
});
