/** GTID values and sets for both flavors. */
export {
  GNO_END,
  GTID_FORMAT_TAGGED,
  MAX_GNO,
  MysqlGtidSet,
  TAG_MAX_LENGTH,
  formatMysqlGtid,
  parseMysqlGtid,
} from './mysql.js';
export type { MysqlGtid, MysqlGtidEncodeOptions } from './mysql.js';
export { MariadbGtidPosition, formatMariadbGtid, parseMariadbGtid } from './mariadb.js';
export type { MariadbGtid } from './mariadb.js';
