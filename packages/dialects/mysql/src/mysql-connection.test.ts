import { UsageError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { displayMysqlUrl, isMysqlUrl, parseMysqlUrl, readOnlyRefusal } from './mysql-connection.js';

describe('MySQL URLs', () => {
  it('handles mysql:// and mariadb:// in any case, nothing else', () => {
    expect(isMysqlUrl('mysql://root@localhost/app')).toBe(true);
    expect(isMysqlUrl('MySQL://root@localhost/app')).toBe(true);
    expect(isMysqlUrl('mariadb://root@localhost/app')).toBe(true);
    expect(isMysqlUrl('MARIADB://root@localhost/app')).toBe(true);
    expect(isMysqlUrl('postgres://localhost/app')).toBe(false);
    expect(isMysqlUrl('sqlite:./mysql.db')).toBe(false);
    expect(isMysqlUrl('mysql:app')).toBe(false);
  });

  it('parses host, port, user, password and database, percent-decoded', () => {
    expect(parseMysqlUrl('mysql://app:s%40cret@db.internal:3307/shop')).toEqual({
      scheme: 'mysql',
      host: 'db.internal',
      port: 3307,
      user: 'app',
      password: 's@cret',
      database: 'shop',
    });
    expect(parseMysqlUrl('MariaDB://root@127.0.0.1/my%20db')).toMatchObject({
      scheme: 'mariadb',
      port: 3306,
      database: 'my db',
    });
    expect(parseMysqlUrl('mysql://root@[::1]:3306/app').host).toBe('::1');
    expect(parseMysqlUrl('mysql://root@h/app').password).toBeUndefined();
  });

  it('reads ssl and socket parameters and rejects unknown ones', () => {
    expect(parseMysqlUrl('mysql://root@h/app?ssl=true').ssl).toBe('verify');
    expect(parseMysqlUrl('mysql://root@h/app?ssl=no-verify').ssl).toBe('no-verify');
    expect(parseMysqlUrl('mysql://root@h/app?ssl=false').ssl).toBeUndefined();
    expect(parseMysqlUrl('mysql://root@localhost/app?socket=/run/mysqld/mysqld.sock').socketPath).toBe(
      '/run/mysqld/mysqld.sock',
    );
    expect(() => parseMysqlUrl('mysql://root@h/app?ssl=maybe')).toThrow(UsageError);
    expect(() => parseMysqlUrl('mysql://root:pw@h/app?charset=latin1')).toThrow(
      /unknown parameter "charset" \(supported: ssl, socket\)/,
    );
  });

  it('requires the database, and never shows the password in errors', () => {
    for (const url of ['mysql://root:hunter2@localhost', 'mysql://root:hunter2@localhost/']) {
      let error: unknown;
      try {
        parseMysqlUrl(url);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(/names no database/);
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => parseMysqlUrl('mysql://root@localhost/a/b')).toThrow(/not a database name/);
    expect(() => parseMysqlUrl('postgres://root@localhost/app')).toThrow(UsageError);
  });

  it('displays the URL without its password', () => {
    expect(displayMysqlUrl('mysql://app:secret@db:3306/shop')).toBe('mysql://app@db:3306/shop');
    expect(displayMysqlUrl('mariadb://app@db/shop?ssl=true')).toBe('mariadb://app@db/shop?ssl=true');
    expect(displayMysqlUrl('mysql://app:secret@db:3306/shop')).not.toContain('secret');
  });

  it('never shows a password that breaks the URL (unencoded / or #, bad percent-encoding)', () => {
    for (const url of [
      'mysql://root:hunter/2@127.0.0.1/app',
      'mysql://root:hun#ter2@127.0.0.1/app',
      'mysql://root:hun?ter2@127.0.0.1/app',
      'mysql://root:hun%zzter2@127.0.0.1/app',
      'mysql://root:hunter2@127.0.0.1:99999/app',
    ]) {
      let error: unknown;
      try {
        parseMysqlUrl(url);
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(UsageError);
      expect((error as Error).message, url).not.toMatch(/hun|ter2/);
      expect((error as Error).message, url).toContain('127.0.0.1');
      expect(displayMysqlUrl(url), url).not.toMatch(/hun|ter2/);
    }
  });
});

describe('read-only guard', () => {
  it('in server mode refuses only what read-only sessions do not stop', () => {
    for (const sql of [
      'SET SESSION TRANSACTION READ WRITE',
      'set transaction read write',
      'SET @@session.transaction_read_only = 0',
      'set tx_read_only = 0',
      'START TRANSACTION READ WRITE',
      'SET GLOBAL max_connections = 10',
      'set @@global.sql_mode = ""',
      'SET PERSIST x = 1',
      "SET PASSWORD = 'x'",
      'FLUSH TABLES',
      'KILL 12',
    ]) {
      expect(readOnlyRefusal(sql, 'server'), sql).toBeDefined();
    }
    for (const sql of [
      'select 1',
      'create table t (x int)',
      "insert into t values ('SET GLOBAL')",
      'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
      "SET time_zone = '+00:00'",
      '-- only a comment',
    ]) {
      expect(readOnlyRefusal(sql, 'server'), sql).toBeUndefined();
    }
  });

  it('in statements mode allows reads only', () => {
    for (const sql of [
      'select 1',
      '  /* hi */ (select 1) union (select 2)',
      'SHOW TABLES',
      'describe t',
      'EXPLAIN select * from t',
      'with x as (select 1 as a) select * from x',
      'SET NAMES utf8mb4',
      'use other',
      'BEGIN',
      'start transaction read only',
      'rollback',
      'savepoint a',
      'release savepoint a',
    ]) {
      expect(readOnlyRefusal(sql, 'statements'), sql).toBeUndefined();
    }
    for (const sql of [
      'create table t (x int)',
      'CREATE TEMPORARY TABLE t (x int)',
      'insert into t values (1)',
      'drop table t',
      'alter table t add y int',
      'call p()',
      'do sleep(1)',
      '/*!50000 create table t (x int) */',
      'with x as (select 1) delete from t where a in (select * from x)',
      "select * from t into outfile '/tmp/x'",
      'explain analyze delete from t',
      'analyze table t',
      'start slave',
      'release all',
    ]) {
      expect(readOnlyRefusal(sql, 'statements'), sql).toBeDefined();
    }
  });
});
