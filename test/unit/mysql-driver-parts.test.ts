import { describe, expect, test } from 'vitest';
import { optionFileText, quoteOption } from '../../drivers/mysql/mysql-defaults-file.js';
import { detectMysql } from '../../drivers/mysql/mysql-detect.js';
import { scratchName } from '../../drivers/mysql/mysql-dump-restore.js';
import { splitStatements, statementAccount } from '../../drivers/mysql/mysql-sql-text.js';
import { sameSeries } from '../../drivers/mysql/mysql-strategies.js';
import { parseToolVersion } from '../../drivers/mysql/mysql-tools.js';

describe('mysql: statements of an accounts dump', () => {
  test('split on semicolons outside quotes, backticks and comments; executable comments kept', () => {
    const script = [
      '/*!40101 SET NAMES utf8mb4 */;',
      '-- a comment; with a semicolon',
      "CREATE USER `we;ird`@`%` IDENTIFIED BY PASSWORD '*AB;CD';",
      "GRANT SELECT ON `a TO b`.* TO 'it''s'@'localhost';",
      '/*M!100005 SET DEFAULT ROLE NONE FOR \'x\'@\'y\' */;',
      '',
    ].join('\n');
    expect(splitStatements(script)).toEqual([
      '/*!40101 SET NAMES utf8mb4 */',
      "CREATE USER `we;ird`@`%` IDENTIFIED BY PASSWORD '*AB;CD'",
      "GRANT SELECT ON `a TO b`.* TO 'it''s'@'localhost'",
      "/*M!100005 SET DEFAULT ROLE NONE FOR 'x'@'y' */",
    ]);
  });

  test.each([
    ["CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*14E6'", { user: 'app', host: '%' }],
    ['CREATE USER IF NOT EXISTS `root`@`::1`', { user: 'root', host: '::1' }],
    ["/*M!100005 CREATE ROLE IF NOT EXISTS 'reader' WITH ADMIN mariadb_dump_import_role */", { user: 'reader' }],
    ['CREATE ROLE IF NOT EXISTS mariadb_dump_import_role', { user: 'mariadb_dump_import_role' }],
    ['GRANT SELECT ON `a TO b`.* TO `u`@`h`', { user: 'u', host: 'h' }],
    ["/*M!100005 GRANT 'reader' TO 'root'@'127.0.0.1' WITH ADMIN OPTION */", { user: 'root', host: '127.0.0.1' }],
    ["/*M!100005 SET DEFAULT ROLE NONE FOR 'app'@'%' */", { user: 'app', host: '%' }],
    ["/*!80001 ALTER USER 'app'@'%' DEFAULT ROLE NONE */", { user: 'app', host: '%' }],
    ["GRANT USAGE ON *.* TO 'it''s'@'localhost'", { user: "it's", host: 'localhost' }],
  ])('%s names %o', (statement, account) => {
    expect(statementAccount(statement)).toEqual(account);
  });

  test.each(['GRANT mariadb_dump_import_role TO CURRENT_USER()', 'SET ROLE mariadb_dump_import_role', "SELECT COALESCE(CURRENT_ROLE(),'NONE') into @current_role", '/*!40101 SET NAMES utf8mb4 */'])(
    '%s names no account',
    (statement) => {
      expect(statementAccount(statement)).toBeUndefined();
    },
  );
});

describe('mysql: option files', () => {
  test('values are quoted so that any password survives', () => {
    expect(quoteOption('a"b\\c#d e\n')).toBe('"a\\"b\\\\c#d e\\n"');
  });

  test('TCP unless a socket is given; no password line without a password', () => {
    const text = optionFileText({ service: 's', host: 'localhost', port: 3307, user: 'root', passwordFrom: [] });
    expect(text).toBe('[client]\nuser="root"\nhost="localhost"\nport=3307\nprotocol=tcp\n');
    const socket = optionFileText({ service: 's', host: 'x', port: 1, user: 'u', password: 'p', socket: '/run/m.sock', passwordFrom: [] });
    expect(socket).toBe('[client]\nuser="u"\npassword="p"\nsocket="/run/m.sock"\nprotocol=socket\n');
  });
});

describe('mysql: tools and names', () => {
  test.each([
    ['mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)', 'mariadb', '10.11.19'],
    ['mariadb-dump from 11.4.2-MariaDB, client 10.19 for debian-linux-gnu (x86_64)', 'mariadb', '11.4.2'],
    ['mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)', 'mariadb', '10.11.19'],
    ['mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)', 'mysql', '8.0.36'],
    ['mariadb-backup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)', 'mariadb', '10.11.19'],
    ['xtrabackup version 8.0.35-30 based on MySQL server 8.0.35 Linux (x86_64)', 'mysql', '8.0.35'],
  ])('%s is %s %s', (text, family, version) => {
    expect(parseToolVersion('/usr/bin/x', text)).toMatchObject({ family, version });
  });

  test('series', () => {
    expect(sameSeries('10.11.19', '10.11.6')).toBe(true);
    expect(sameSeries('10.11.19', '11.4.2')).toBe(false);
  });

  test('scratch names stay within 64 characters', () => {
    expect(scratchName('shop')).toBe('shop__holdfast');
    expect([...scratchName('x'.repeat(64))].length).toBeLessThanOrEqual(64);
  });

  test('detection signals', () => {
    expect(detectMysql({ endpoint: { scheme: 'mariadb', host: 'h', path: '', params: {} } })).toMatchObject({ engine: 'mysql', strength: 80 });
    expect(detectMysql({ image: 'mariadb:11' })).toMatchObject({ strength: 60 });
    expect(detectMysql({ image: 'docker.io/library/mysql:8.4' })).toMatchObject({ strength: 60 });
    expect(detectMysql({ image: 'mysqld-exporter:1' })).toBeUndefined();
    expect(detectMysql({ envNames: ['MARIADB_ROOT_PASSWORD'] })).toMatchObject({ strength: 40 });
    expect(detectMysql({ volumeEntries: ['ibdata1', 'mysql', 'shop'] })).toMatchObject({ strength: 20 });
    expect(detectMysql({ volumeEntries: ['ibdata1'] })).toBeUndefined();
  });
});
