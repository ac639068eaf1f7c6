import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { mysqlQuery, mysqlUrl, numbers, seedMysqlSample } from '../support/mysql-sample.js';
import { committedSnapshots } from '../support/repo-files.js';

interface BackupDoc {
  snapshot: string | null;
  services: Array<{ status: string; notes?: string[]; error?: { code: string; message: string; hint?: string } }>;
}

describe('mysql bad input: clear errors, non-zero exits, no partial snapshot, no password shown', () => {
  let db: MariadbServer;
  let work: string;
  let env: Record<string, string>;
  let n = 0;
  const freshRepo = () => join(work, `repo-${++n}`);

  beforeAll(async () => {
    db = await startMariadb();
    await seedMysqlSample(db, 'app', 300);
    work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-bad-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: db.rootPassword, HOLDFAST_DB_TARGET_PASSWORD: db.rootPassword };
  });
  afterAll(async () => {
    await db?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('an unreachable server: exit 1, names the service and the fix, no snapshot', async () => {
    const port = await freePort();
    const r = await holdfast(['backup', '--service', `db=mysql://root@127.0.0.1:${port}/app`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[db\].*cannot reach MySQL \/ MariaDB at 127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/hint: .*host and port/);
    expect(r.stdout).toMatch(/no snapshot was saved/);
  });

  test('a wrong password: exit 1, the server refused the user, the password is never printed', async () => {
    const target = freshRepo();
    const r = await holdfast(['backup', '--json', '--service', `db=${mysqlUrl(db, 'app')}`], { ...env, HOLDFAST_REPO: target, HOLDFAST_DB_PASSWORD: 'wrong-password-123' });
    expect(r.code).toBe(1);
    const doc = r.json<BackupDoc>();
    expect(doc.snapshot).toBeNull();
    expect(doc.services[0]!.error).toMatchObject({ code: 'auth' });
    expect(doc.services[0]!.error!.message).toMatch(/refused user root/);
    expect(doc.services[0]!.error!.hint).toContain('HOLDFAST_DB_PASSWORD');
    expect(r.stdout + r.stderr).not.toContain('wrong-password-123');
    expect(await committedSnapshots(target)).toEqual([]);
  });

  test('a database that does not exist: exit 1, lists the ones that do', async () => {
    const r = await holdfast(['backup', '--service', `db=${mysqlUrl(db, 'nope')}`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[db\].*database "nope" does not exist/);
    expect(r.stderr).toMatch(/hint: it has: app/);
  });

  test('a mysqldump of the wrong family (MySQL 8 against MariaDB) is refused before it runs', async () => {
    const bin = join(work, 'mysql8-bin');
    await mkdir(bin);
    const ran = join(work, 'fake-mysqldump-ran');
    // What MySQL 8's mysqldump prints; run against MariaDB it would fail on COLUMN_STATISTICS.
    await writeFile(
      join(bin, 'mysqldump'),
      `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)"; exit 0; fi\ntouch '${ran}'\necho "mysqldump: Couldn't execute 'SELECT COLUMN_NAME ... FROM information_schema.COLUMN_STATISTICS': Unknown table 'COLUMN_STATISTICS' in information_schema (1109)" >&2\nexit 2\n`,
    );
    await chmod(join(bin, 'mysqldump'), 0o755);
    const wrongEnv = { ...env, HOLDFAST_REPO: freshRepo(), HOLDFAST_MYSQL_BINDIR: bin };
    const plan = await holdfast(['plan', '--service', `db=${mysqlUrl(db, 'app')}`], wrongEnv);
    expect(plan.stdout + plan.stderr).toMatch(/mysqldump is MySQL 8\.0\.36's mysqldump, and the server is MariaDB/);
    const r = await holdfast(['backup', '--service', `db=${mysqlUrl(db, 'app')}`], wrongEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[db\].*MySQL 8\.0\.36's mysqldump, and the server is MariaDB: use the tool of the server's own family/);
    expect(r.stderr).toMatch(/hint: .*mariadb-client.*HOLDFAST_MYSQL_BINDIR/);
    expect(existsSync(ran)).toBe(false);
  });

  test('a MyISAM table is named in a note and in the manifest; lock_non_transactional holds it so its fingerprint matches under writes', async () => {
    await mysqlQuery(db, `CREATE TABLE legacy (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40)) ENGINE=MyISAM; INSERT INTO legacy (v) SELECT MD5(n) FROM ${numbers(5000)} g;`, 'app');
    try {
      const plain = await holdfast(['backup', '--json', '--service', `db=${mysqlUrl(db, 'app')}`], env);
      expect(plain.code, plain.stderr).toBe(0);
      const notes = plain.json<BackupDoc>().services[0]!.notes ?? [];
      expect(notes.join('\n')).toMatch(/tables outside InnoDB are not covered by the dump's transaction.*app\.legacy \(MyISAM\).*lock_non_transactional: true/);
      const show = await holdfast(['show', plain.json<BackupDoc>().snapshot!, '--json'], env);
      const details = show.json<{ services: { db: { details: { nonTransactionalTables: unknown[]; fingerprintExact: boolean } } } }>().services.db.details;
      expect(details.nonTransactionalTables).toEqual([{ database: 'app', table: 'legacy', engine: 'MyISAM' }]);
      expect(details.fingerprintExact).toBe(false);

      const config = join(work, 'holdfast.yml');
      await writeFile(config, `services:\n  db:\n    url: ${mysqlUrl(db, 'app')}\n    lock_non_transactional: true\n`);
      const writer = myisamWriter(db);
      let locked;
      try {
        locked = await holdfast(['backup', '--json', '--fingerprint', 'full', '--config', config], env);
      } finally {
        await writer.stop();
      }
      expect(locked.code, locked.stderr).toBe(0);
      expect(writer.inserted()).toBeGreaterThan(0);
      expect((locked.json<BackupDoc>().services[0]!.notes ?? []).join('\n')).toMatch(/held with LOCK TABLES \.\.\. READ .*app\.legacy \(MyISAM\)/);
      const restore = await holdfast(['restore', locked.json<BackupDoc>().snapshot!, '--json', '--target', `db=${mysqlUrl(db, 'app_locked_copy')}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
    } finally {
      await mysqlQuery(db, 'DROP TABLE IF EXISTS legacy', 'app');
    }
  });

  test('another backup holding the backup lock: the hold gives up after hold_timeout, with the way out', async () => {
    const blocker = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', password: db.rootPassword });
    await blocker.query('BACKUP STAGE START');
    const config = join(work, 'hold-timeout.yml');
    await writeFile(config, `services:\n  db:\n    url: ${mysqlUrl(db, 'app')}\n    hold_timeout: 1\n`);
    try {
      const started = Date.now();
      const r = await holdfast(['backup', '--config', config], { ...env, HOLDFAST_REPO: freshRepo() });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[db\].*could not hold commits for the snapshot within 1s/);
      expect(r.stderr).toMatch(/hint: .*hold_timeout/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await blocker.query('BACKUP STAGE END');
      await blocker.end();
    }
  });

  test('a user with only the dump privileges: the backup is saved and says what it could not do', async () => {
    await mysqlQuery(db, "CREATE USER 'plain'@'127.0.0.1' IDENTIFIED BY 'plain-pw'; GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON app.* TO 'plain'@'127.0.0.1'");
    const r = await holdfast(['backup', '--json', '--service', `plain=mysql://plain@127.0.0.1:${db.port}/app`], { ...env, HOLDFAST_PLAIN_PASSWORD: 'plain-pw' });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const notes = (r.json<BackupDoc>().services[0]!.notes ?? []).join('\n');
    expect(notes).toMatch(/accounts and grants were not saved \(the definitions fingerprint leaves grants out\): plain may not read them \(it needs SELECT on mysql\.\*\)/);
    expect(notes).toMatch(/app: writers were not held \(plain lacks the RELOAD privilege\)/);
    expect(notes).toMatch(/app: the binlog position was not recorded: .*BINLOG MONITOR/);
    const show = await holdfast(['show', r.json<BackupDoc>().snapshot!, '--json'], env);
    expect(show.json<{ services: { plain: { details: { fingerprintExact: boolean } } } }>().services.plain.details.fingerprintExact).toBe(false);
    const restore = await holdfast(['restore', r.json<BackupDoc>().snapshot!, '--json', '--target', `plain=${mysqlUrl(db, 'app_from_plain')}`], { ...env, HOLDFAST_PLAIN_TARGET_PASSWORD: db.rootPassword });
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
  });

  test('service names with shell characters are refused; database names with them are data, never shell', async () => {
    const canary = join(work, 'pwned');
    const bad = await holdfast(['backup', '--service', `db;touch pwned=${mysqlUrl(db, 'app')}`], env, { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid service name/);

    const weird = "x\"; touch pwned; $(touch pwned) `'";
    const quoted = weird.replace(/`/g, '``');
    await mysqlQuery(db, `CREATE DATABASE \`${quoted}\`; CREATE TABLE \`${quoted}\`.t (v INT); INSERT INTO \`${quoted}\`.t VALUES (1), (2), (3)`);
    try {
      const backup = await holdfast(['backup', '--json', '--service', `db=${mysqlUrl(db, weird)}`], env, { cwd: work });
      expect(backup.code, backup.stderr + backup.stdout).toBe(0);
      const id = backup.json<BackupDoc>().snapshot!;
      const files = await readdir(join(env.HOLDFAST_REPO!, 'snapshots', id, 'db'));
      expect(files.every((f) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(f))).toBe(true);
      const restore = await holdfast(['restore', id, '--json', '--target', `db=${mysqlUrl(db, `${weird} copy`)}`], env, { cwd: work });
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      expect(await mysqlQuery(db, 'SELECT COUNT(*) AS n FROM t', `${weird} copy`)).toEqual([{ n: '3' }]);
      expect(existsSync(canary)).toBe(false);
    } finally {
      await mysqlQuery(db, `DROP DATABASE IF EXISTS \`${quoted}\`; DROP DATABASE IF EXISTS \`${quoted} copy\``);
    }
  });

  test('the password never reaches a command line, and the private option files are gone afterwards', async () => {
    const user = 'odd';
    const password = `p"a\\ss #w'o;rd $(x) ${'`'}`;
    await mysqlQuery(db, `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY ?; GRANT ALL ON *.* TO '${user}'@'127.0.0.1'`, undefined, [password]);
    const scratch = join(work, 'tmp');
    await mkdir(scratch);
    // The watcher itself is checked first: it sees a process that does carry the password.
    const control = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 400)', password]);
    await new Promise((r) => setTimeout(r, 100));
    expect(commandLinesWith(password).length).toBe(1);
    control.kill();
    await new Promise((r) => control.once('close', r));
    const seen: string[] = [];
    const watch = setInterval(() => seen.push(...commandLinesWith(password)), 5);
    try {
      const r = await holdfast(['backup', '--json', '--service', `odd=mysql://${user}@127.0.0.1:${db.port}/app`], { ...env, HOLDFAST_ODD_PASSWORD: password, HOLDFAST_TMPDIR: scratch });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(password);
    } finally {
      clearInterval(watch);
    }
    expect(seen).toEqual([]);
    expect(await readdir(scratch)).toEqual([]);
  });

  test('a target URL naming one database for a snapshot of several: usage error with the way out', async () => {
    await seedMysqlSample(db, 'second', 50);
    const backup = await holdfast(['backup', '--json', '--service', `db=${mysqlUrl(db)}`], env);
    expect(backup.code, backup.stderr).toBe(0);
    const id = backup.json<BackupDoc>().snapshot!;
    const r = await holdfast(['restore', id, '--target', `db=${mysqlUrl(db, 'merged')}`], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[db\].*the target names one database \(merged\) but the snapshot holds \d+/);
    expect(r.stderr).toMatch(/--database NAME/);
    const one = await holdfast(['restore', id, '--json', '--database', 'second', '--target', `db=${mysqlUrl(db, 'merged')}`], env);
    expect(one.code, one.stderr + one.stdout).toBe(0);
    expect(one.json<{ services: Array<{ fingerprint: { equal: boolean; compared: number } }> }>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 13 });
  });
});

/** Command lines of running processes that contain `text`. */
function commandLinesWith(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(text)) found.push(cmdline.replace(/\0/g, ' '));
    } catch {
      // gone
    }
  }
  return found;
}

/** Inserts into the MyISAM table until stopped. */
function myisamWriter(db: MariadbServer) {
  let count = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      await mysqlQuery(db, "INSERT INTO legacy (v) VALUES ('during')", 'app');
      count++;
    }
  })();
  return {
    inserted: () => count,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
