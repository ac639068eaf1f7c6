import { mongoToolsEnv } from '../support/mongo-fixture.js';
import { ensureMongoImages, MONGO_IMAGES, waitForMongoContainer, withContainerClient } from '../support/mongo-container.js';
import { secretLabelSuite } from '../support/container-secret-suite.js';

// MongoDB (FerretDB) in a container with no network, labelled holdfast.secret-file: the file the
// label names inside the container holds the password, and it wins over MONGO_INITDB_ROOT_PASSWORD
// (issue #14 point 3, "a label naming a secret"). The suite, shared with MariaDB, is
// test/support/container-secret-suite.ts.
const PASSWORD = 'mongo-root-secret-58';

secretLabelSuite({
  engine: 'MongoDB',
  variable: 'MONGO_INITDB_ROOT_PASSWORD',
  password: PASSWORD,
  service: 'ledger',
  strategy: 'mongodump',
  refused: /authentication failed/i,
  env: mongoToolsEnv,
  prepare: ensureMongoImages,
  start: async (lab, args) => {
    const db = await lab.run('db', ['-e', 'MONGO_INITDB_ROOT_USERNAME=root', '-e', `MONGO_INITDB_ROOT_PASSWORD=${PASSWORD}`, ...args, MONGO_IMAGES.ferretdb]);
    await waitForMongoContainer(db);
    await withContainerClient(db, { user: 'root', password: PASSWORD }, async (c) => {
      await c.db('ledger').collection('entries').insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: i })));
    });
    return db;
  },
});
