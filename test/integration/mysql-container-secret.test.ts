import { ensureMariadbImage, mariadbContainer, mariadbSql } from '../support/mariadb-container.js';
import { secretLabelSuite } from '../support/container-secret-suite.js';

// MariaDB in a container with no network, labelled holdfast.secret-file: the file the label names
// inside the container holds root's password, and it wins over MARIADB_ROOT_PASSWORD (issue #14
// point 3, "a label naming a secret"). The suite, shared with MongoDB, is
// test/support/container-secret-suite.ts.
const PASSWORD = 'maria-root-secret-63';

secretLabelSuite({
  engine: 'MariaDB',
  variable: 'MARIADB_ROOT_PASSWORD',
  password: PASSWORD,
  service: 'shop',
  strategy: 'dump',
  refused: /Access denied/,
  prepare: ensureMariadbImage,
  start: async (lab, args) => {
    const db = await mariadbContainer(lab, 'db', { env: ['-e', `MARIADB_ROOT_PASSWORD=${PASSWORD}`], args });
    await mariadbSql(db, 'CREATE DATABASE shop');
    await mariadbSql(db, 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_40', 'shop');
    return db;
  },
});
