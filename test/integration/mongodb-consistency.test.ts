import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { type AnyDoc, enableOplog, type MongoFixture, mongoToolsEnv, startMongoFixture } from '../support/mongo-fixture.js';

const WALLETS = 1000;
const START = 1000;
const AMOUNT = 7;
const LEDGER_SEED = 12_000;

/**
 * A bank under load while mongodump --oplog runs against the rs0 server.
 * FerretDB has no transactions, so every write is one document:
 *  - A payment books an entry of AMOUNT into the vault's ledger (an insert),
 *    then debits a wallet by AMOUNT (an update), in that order, by one writer.
 *    At any instant wallets + ledger hold START*WALLETS, or AMOUNT more while
 *    a payment is half done. mongodump reads the small wallets collection in
 *    a moment and the large ledger for seconds: a copy that is not one point
 *    in time keeps the ledger entries booked after the wallets were read but
 *    not their debits, and its total comes out high by AMOUNT per payment
 *    (checked: the collections alone, without the oplog replay, do).
 *  - A move shifts value between two fields of one wallet (checking and
 *    savings): their sum per document is constant at every instant.
 * After the restore (collections plus the captured oplog, replayed by
 * holdfast), both must hold.
 */
describe('mongodb: a mongodump --oplog backup taken during payments is one point in time', () => {
  let m: MongoFixture;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    // The oplog starts after the seed: FerretDB scans all of it for each of mongodump's oplog queries.
    m = await startMongoFixture({ oplog: false });
    const bank = m.client.db('bank');
    await bank.collection<AnyDoc>('wallets').insertMany(Array.from({ length: WALLETS }, (_, i) => ({ _id: i, owner: `owner ${i}`, balance: START, checking: 500, savings: 500 })));
    await bank.collection<AnyDoc>('ledger').insertMany(Array.from({ length: LEDGER_SEED }, (_, i) => ({ _id: i, amount: 0, text: 'opening entry '.padEnd(400, '.') })));
    await enableOplog(m.client);
    work = await mkdtemp(join(tmpdir(), 'holdfast-mongo-bank-'));
    env = { ...mongoToolsEnv(), HOLDFAST_REPO: join(work, 'repo') };
  });
  afterAll(async () => {
    await m?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the restored bank balances: total constant, each wallet whole', async () => {
    const bank = m.client.db('bank');
    const wallets = bank.collection<{ _id: number; balance: number; checking: number; savings: number }>('wallets');
    const ledger = bank.collection<{ _id: number; amount: number; text: string }>('ledger');
    let payments = 0;
    let stop = false;
    const pick = () => Math.floor(Math.random() * WALLETS);
    const load = (async () => {
      for (let id = LEDGER_SEED; !stop; id++) {
        await ledger.insertOne({ _id: id, amount: AMOUNT, text: `payment ${id}` });
        await wallets.updateOne({ _id: pick() }, { $inc: { balance: -AMOUNT } });
        await wallets.updateOne({ _id: pick() }, { $inc: { checking: -3, savings: 3 } });
        payments++;
      }
    })();
    try {
      while (payments < 20) await new Promise((r) => setTimeout(r, 20));
      const before = payments;
      // No fingerprint: it is read after the dump, while payments go on (see the backup's note).
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'none', '--service', `bank=${m.url()}`], env);
      const during = payments - before;
      expect(backup.code, backup.stderr + backup.stdout).toBe(0);
      const doc = backup.json<{ snapshot: string; services: Array<{ strategy: string; consistency: string }> }>();
      expect(doc.services[0]).toMatchObject({ strategy: 'mongodump', consistency: 'transactional' });
      expect(during).toBeGreaterThan(20); // the bank really moved money while the dump ran

      const show = await holdfast(['show', doc.snapshot, '--json'], env);
      const details = show.json<{ services: { bank: { details: { oplog: boolean; oplogEntries: number } } } }>().services.bank.details;
      expect(details.oplog).toBe(true);
      expect(details.oplogEntries).toBeGreaterThan(10);

      stop = true;
      await load;
      const restore = await holdfast(['restore', doc.snapshot, '--json', '--target', `bank=${m.url('bank_copy')}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      const outcome = restore.json<{ services: Array<{ status: string; notes: string[] }> }>().services[0]!;
      expect(outcome.status).toBe('ok');
      const replayed = outcome.notes.map((n) => /oplog replayed .*: (\d+) of (\d+) entries applied/.exec(n)).find(Boolean);
      expect(Number(replayed?.[1])).toBeGreaterThan(10);

      const copy = m.client.db('bank_copy');
      const walletRows = await copy.collection<{ balance: number; checking: number; savings: number }>('wallets').find().toArray();
      expect(walletRows).toHaveLength(WALLETS);
      let total = walletRows.reduce((n, w) => n + w.balance, 0);
      for await (const entry of copy.collection<{ amount: number }>('ledger').find({ amount: { $ne: 0 } }, { projection: { amount: 1 } })) total += entry.amount;
      expect([START * WALLETS, START * WALLETS + AMOUNT]).toContain(total);
      expect(walletRows.filter((w) => w.checking + w.savings !== 1000)).toEqual([]);
    } finally {
      stop = true;
      await load;
    }
  });
});
