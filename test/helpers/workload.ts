// Many single-row autocommit transactions on a primary, fast: a stored procedure `<db>.gen(n, seed)` run on
// several connections at once. The bench's history (bench/workload.ts) and the tests that need megabytes of
// binlog use it.
import type { MariaDBInstance } from './mariadb.js';

export interface RowsWorkload {
  /** Database created for it, with table `t (id, k, v)` and the procedure `gen`, which stays for later calls. */
  db: string;
  txns: number;
  /** Connections writing at once, each a share of the transactions. */
  conns: number;
  /** Column type of `v`, e.g. VARCHAR(255). */
  column: string;
  /** SQL expression for `v`; may use the procedure's loop counter `i`. */
  value: string;
}

export async function writeRows(primary: MariaDBInstance, w: RowsWorkload): Promise<void> {
  await primary.query(`CREATE DATABASE ${w.db}`);
  await primary.query(`CREATE TABLE ${w.db}.t (id INT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL, v ${w.column} NOT NULL) ENGINE=InnoDB`);
  await primary.query(`CREATE PROCEDURE ${w.db}.gen(n INT, seed INT)
    BEGIN
      DECLARE i INT DEFAULT 0;
      WHILE i < n DO
        INSERT INTO ${w.db}.t (k, v) VALUES (seed + i, ${w.value});
        SET i = i + 1;
      END WHILE;
    END`);
  const per = Math.ceil(w.txns / w.conns);
  await Promise.all(
    Array.from({ length: w.conns }, async (_, c) => {
      const conn = await primary.connect();
      try {
        await conn.query(`CALL ${w.db}.gen(?, ?)`, [Math.min(per, w.txns - c * per), c * per]);
      } finally {
        await conn.end();
      }
    }),
  );
}
