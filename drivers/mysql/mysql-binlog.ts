import { rows, type Connection } from './mysql-connection.js';
import type { Family } from './mysql-tools.js';

/** Where the binary log stood at the snapshot: for point-in-time recovery or a replica. */
export interface BinlogPosition {
  file: string;
  position: number;
  /** MariaDB `@@gtid_binlog_pos` (domain-server-seq) or MySQL `Executed_Gtid_Set`; the two formats do not mix. */
  gtid?: string;
  gtidFormat: Family;
}

/**
 * Read while writers are held, so it is the position of the snapshot.
 * `SHOW MASTER STATUS` is gone from MySQL 8.4 (`SHOW BINARY LOG STATUS`, 8.2+).
 * It needs a privilege (MariaDB BINLOG MONITOR, MySQL REPLICATION CLIENT);
 * without it the backup goes on and says why the position is missing.
 */
export async function readBinlogPosition(c: Connection, family: Family, gtidMode: boolean): Promise<{ position?: BinlogPosition; problem?: string }> {
  let status: Array<{ File: string; Position: string | number; Executed_Gtid_Set?: string }>;
  try {
    status = await rows(c, 'SHOW MASTER STATUS');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ER_PARSE_ERROR') return { problem: `the binlog position was not recorded: ${(error as Error).message}` };
    status = await rows(c, 'SHOW BINARY LOG STATUS');
  }
  const row = status[0];
  if (!row) return {};
  const position: BinlogPosition = { file: row.File, position: Number(row.Position), gtidFormat: family };
  if (family === 'mariadb') {
    const [g] = await rows<{ gtid: string }>(c, 'SELECT @@gtid_binlog_pos AS gtid');
    if (g?.gtid) position.gtid = g.gtid;
  } else if (gtidMode && row.Executed_Gtid_Set) {
    position.gtid = row.Executed_Gtid_Set.replace(/\s+/g, '');
  }
  return { position };
}
