/**
 * Key material of the listener:
 *  - the TLS certificate and key: from the configuration (a PEM text or a file path), otherwise a
 *    self-signed certificate generated once into `<dataDir>/tls/` and reused after restarts (MariaDB 11.4+
 *    replicas ask for TLS by default). Node cannot create X.509 certificates, so generation calls the
 *    `openssl` command once; without it the server runs without TLS and says why.
 *  - the RSA key pair of caching_sha2_password's public-key exchange, generated with node:crypto once into
 *    the same directory, so that a replica configured with SOURCE_PUBLIC_KEY_PATH keeps working.
 */
import { execFile } from 'node:child_process';
import { generateKeyPair, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { ServerError } from './errors.js';

export interface TlsConfig {
  /** PEM text or path of the certificate (chain). */
  cert?: string;
  /** PEM text or path of the private key. */
  key?: string;
  /** PEM text or path of CA certificates (sent with the chain). */
  ca?: string;
}

export interface TlsMaterial {
  secureContext: SecureContext;
  /** DER of the leaf certificate (input of MariaDB's zero-configuration TLS proof). */
  certDer: Buffer;
  /** SHA-256 fingerprint, for logs. */
  fingerprint256: string;
  origin: 'configured' | 'generated' | 'reused';
  certPath: string | null;
}

export interface RsaKeys {
  privateKeyPem: string;
  publicKeyPem: string;
}

const CERT_FILE = 'server-cert.pem';
const KEY_FILE = 'server-key.pem';
const RSA_PRIVATE_FILE = 'rsa-private.pem';
const RSA_PUBLIC_FILE = 'rsa-public.pem';

function tlsDir(dataDir: string): string {
  return path.join(dataDir, 'tls');
}

async function readPemOrFile(value: string, what: string): Promise<string> {
  if (value.includes('-----BEGIN')) return value;
  try {
    return await readFile(value, 'utf8');
  } catch (cause) {
    throw new ServerError('ERR_TLS', `cannot read the TLS ${what} file '${value}': ${(cause as Error).message}`, { cause });
  }
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ServerError('ERR_TLS', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function material(certPem: string, keyPem: string, caPem: string | undefined, origin: TlsMaterial['origin'], certPath: string | null): TlsMaterial {
  let secureContext: SecureContext;
  let leaf: X509Certificate;
  try {
    secureContext = createSecureContext({ cert: certPem, key: keyPem, ca: caPem, minVersion: 'TLSv1.2' });
    leaf = new X509Certificate(certPem);
  } catch (cause) {
    throw new ServerError('ERR_TLS', `the TLS certificate or key is not usable: ${(cause as Error).message}`, { cause });
  }
  return { secureContext, certDer: leaf.raw, fingerprint256: leaf.fingerprint256, origin, certPath };
}

function run(file: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (err, _stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        e.message = `${e.message}${stderr ? `: ${String(stderr).trim()}` : ''}`;
        reject(e);
      } else {
        resolve();
      }
    });
  });
}

/** Generates a self-signed certificate with openssl into `dir` (atomically: temp dir, then rename). */
async function generateSelfSigned(dir: string, openssl: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(path.join(dir, '.gen-'));
  try {
    const host = hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
    const san = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...(host !== 'localhost' ? [`DNS:${host}`] : [])].join(',');
    try {
      await run(
        openssl,
        [
          'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
          '-subj', '/CN=binlog-proxy',
          '-addext', `subjectAltName=${san}`,
          '-keyout', path.join(tmp, KEY_FILE),
          '-out', path.join(tmp, CERT_FILE),
        ],
        30_000,
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ServerError(
          'ERR_TLS_UNAVAILABLE',
          `cannot generate a self-signed TLS certificate: the '${openssl}' command is not installed. Install openssl, or configure server.tls.cert and server.tls.key`,
          { cause: err },
        );
      }
      throw new ServerError('ERR_TLS', `openssl failed to generate a self-signed certificate: ${(err as Error).message}`, { cause: err });
    }
    // Key first, certificate last: the certificate's presence means the pair is complete.
    await rename(path.join(tmp, KEY_FILE), path.join(dir, KEY_FILE));
    await rename(path.join(tmp, CERT_FILE), path.join(dir, CERT_FILE));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The listener's TLS material: configured files, else the self-signed pair of `<dataDir>/tls/` (made on
 * first use). Throws ServerError ERR_TLS for unusable configured files, ERR_TLS_UNAVAILABLE when a
 * certificate would have to be generated and openssl is missing.
 */
export async function loadTlsMaterial(opts: { config?: TlsConfig | null; dataDir: string; openssl?: string }): Promise<TlsMaterial> {
  const cfg = opts.config ?? {};
  if (cfg.cert || cfg.key) {
    if (!cfg.cert || !cfg.key) throw new ServerError('ERR_TLS', 'server.tls needs both cert and key');
    const cert = await readPemOrFile(cfg.cert, 'certificate');
    const key = await readPemOrFile(cfg.key, 'key');
    const ca = cfg.ca ? await readPemOrFile(cfg.ca, 'CA') : undefined;
    return material(cert, key, ca, 'configured', cfg.cert.includes('-----BEGIN') ? null : cfg.cert);
  }
  const dir = tlsDir(opts.dataDir);
  const certPath = path.join(dir, CERT_FILE);
  let cert = await readIfExists(certPath);
  let key = cert === null ? null : await readIfExists(path.join(dir, KEY_FILE));
  let origin: TlsMaterial['origin'] = 'reused';
  if (cert === null || key === null) {
    await generateSelfSigned(dir, opts.openssl ?? 'openssl');
    cert = await readFile(certPath, 'utf8');
    key = await readFile(path.join(dir, KEY_FILE), 'utf8');
    origin = 'generated';
  }
  return material(cert, key, undefined, origin, certPath);
}

/** The caching_sha2_password RSA key pair of `<dataDir>/tls/`, generated on first use. */
export async function loadRsaKeys(dataDir: string): Promise<RsaKeys> {
  const dir = tlsDir(dataDir);
  const privatePath = path.join(dir, RSA_PRIVATE_FILE);
  const publicPath = path.join(dir, RSA_PUBLIC_FILE);
  const priv = await readIfExists(privatePath);
  const pub = priv === null ? null : await readIfExists(publicPath);
  if (priv !== null && pub !== null) return { privateKeyPem: priv, publicKeyPem: pub };
  const pair = await new Promise<RsaKeys>((resolve, reject) => {
    generateKeyPair(
      'rsa',
      { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, publicKey, privateKey) => (err ? reject(err) : resolve({ privateKeyPem: privateKey, publicKeyPem: publicKey })),
    );
  });
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmpPriv = `${privatePath}.tmp-${process.pid}`;
    const tmpPub = `${publicPath}.tmp-${process.pid}`;
    await writeFile(tmpPriv, pair.privateKeyPem, { mode: 0o600 });
    await writeFile(tmpPub, pair.publicKeyPem, { mode: 0o644 });
    await rename(tmpPub, publicPath);
    await rename(tmpPriv, privatePath);
  } catch (cause) {
    throw new ServerError('ERR_TLS', `cannot store the RSA key pair in ${dir}: ${(cause as Error).message}`, { cause });
  }
  return pair;
}
