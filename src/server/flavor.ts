/**
 * The face the listener shows a connecting client: flavour, greeting version string, default collation and
 * authentication plugin, chosen from the stored binlog (§0.9, §1.3):
 *   MariaDB 10.x  greeting '5.5.5-10.11.6-MariaDB-binlog-proxy' (the RPL_VERSION_HACK prefix old clients need),
 *                 @@version '10.11.6-MariaDB-binlog-proxy'
 *   MariaDB 11.x  '11.4.3-MariaDB-binlog-proxy' (no prefix, MDEV-28910)
 *   MySQL         '8.0.45-binlog-proxy'
 * The version comes from the newest stored FDE (without its '-log' suffix), else from the primary the syncer
 * talks to, else a default of the configured flavour. Charset: 45 utf8mb4_general_ci (MariaDB) / 255
 * utf8mb4_0900_ai_ci (MySQL). Greeting plugin: mysql_native_password (MariaDB) / caching_sha2_password (MySQL).
 */
import { CACHING_SHA2_PASSWORD, MYSQL_NATIVE_PASSWORD, UTF8MB4_0900_AI_CI, UTF8MB4_GENERAL_CI } from '../../protocol/constants.js';
import type { AuthPlugin } from './auth.js';
import type { Flavor } from './dump/types.js';

export const VERSION_SUFFIX = 'binlog-proxy';

export const DEFAULT_VERSIONS: Record<Flavor, string> = {
  mariadb: '10.11.10-MariaDB',
  mysql: '8.0.40',
};

export interface Face {
  flavor: Flavor;
  /** Sent in the greeting. */
  greeting: string;
  /** @@version / VERSION(). */
  version: string;
  collation: number;
  plugin: AuthPlugin;
}

/** '10.11.6-MariaDB-log' → '10.11.6-MariaDB'; '8.0.45' stays; a leading '5.5.5-' goes. */
export function baseVersion(raw: string): string {
  let v = raw.trim().replace(/^5\.5\.5-/, '');
  while (v.endsWith('-log')) v = v.slice(0, -4);
  return v;
}

export function majorOf(version: string): number {
  const m = /^([0-9]+)\./.exec(version);
  return m ? Number(m[1]) : 0;
}

export function faceFor(flavor: Flavor, rawVersion: string | null): Face {
  let base = baseVersion(rawVersion ?? DEFAULT_VERSIONS[flavor]);
  if (base === '' || majorOf(base) === 0) base = DEFAULT_VERSIONS[flavor];
  if (flavor === 'mariadb') {
    if (!base.includes('MariaDB')) base = `${base}-MariaDB`;
    const version = `${base}-${VERSION_SUFFIX}`;
    return {
      flavor,
      greeting: majorOf(base) >= 11 ? version : `5.5.5-${version}`,
      version,
      collation: UTF8MB4_GENERAL_CI,
      plugin: MYSQL_NATIVE_PASSWORD,
    };
  }
  // A MariaDB-looking version on a MySQL store would flip clients' flavour detection: drop the marker.
  base = base.replace(/-?MariaDB/g, '');
  const version = `${base}-${VERSION_SUFFIX}`;
  return { flavor, greeting: version, version, collation: UTF8MB4_0900_AI_CI, plugin: CACHING_SHA2_PASSWORD };
}
