import { type TableDefinition, UsageError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { type MysqlColumnDefinition, renderMysqlDdl, renderMysqlDefault } from './mysql-ddl.js';

const posts: TableDefinition = {
  name: 'posts',
  columns: [
    { name: 'id', type: 'bigint', nullable: false, autoIncrement: true },
    { name: 'author_id', type: 'bigint', nullable: false },
    { name: 'title', type: 'varchar(120)', nullable: false, default: "'untitled'" },
    { name: 'active', type: 'boolean', nullable: false, default: 'true' },
    { name: 'created_at', type: 'timestamptz', nullable: false, default: 'CURRENT_TIMESTAMP' },
    { name: 'edited_at', type: 'timestamptz', nullable: true },
    { name: 'embedding', type: 'vector(3)', nullable: true },
    { name: 'flags', type: null, nativeType: 'int(10) unsigned', nullable: true },
  ],
  primaryKey: { columns: ['id'] },
  indexes: [
    {
      name: 'posts_author_title',
      unique: false,
      parts: [{ column: 'author_id' }, { column: 'title', descending: true }],
    },
    { name: 'posts_title_key', unique: true, parts: [{ column: 'title' }] },
  ],
  foreignKeys: [
    {
      name: 'posts_author_fk',
      columns: ['author_id'],
      referencedTable: 'authors',
      referencedColumns: ['id'],
      onDelete: 'cascade',
      onUpdate: 'set null',
    },
  ],
  checks: [{ name: 'posts_title_check', expression: "title <> ''" }],
};

describe('renderMysqlDdl', () => {
  it('renders CREATE TABLE with types, defaults, AUTO_INCREMENT, keys, checks and the vector comment', () => {
    const [create, ...indexes] = renderMysqlDdl({ kind: 'createTable', table: posts });
    expect(create).toBe(
      [
        'CREATE TABLE `posts` (',
        '  `id` BIGINT NOT NULL AUTO_INCREMENT,',
        '  `author_id` BIGINT NOT NULL,',
        "  `title` VARCHAR(120) NOT NULL DEFAULT 'untitled',",
        '  `active` TINYINT(1) NOT NULL DEFAULT 1,',
        '  `created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),',
        '  `edited_at` TIMESTAMP(6) NULL,',
        "  `embedding` JSON NULL COMMENT 'cmpkg:vector(3)',",
        '  `flags` int(10) unsigned NULL,',
        '  PRIMARY KEY (`id`),',
        "  CONSTRAINT `posts_title_check` CHECK (title <> ''),",
        '  CONSTRAINT `posts_author_fk` FOREIGN KEY (`author_id`) REFERENCES `authors` (`id`) ON DELETE CASCADE ON UPDATE SET NULL',
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
      ].join('\n'),
    );
    expect(indexes).toEqual([
      'CREATE INDEX `posts_author_title` ON `posts` (`author_id`, `title` DESC)',
      'CREATE UNIQUE INDEX `posts_title_key` ON `posts` (`title`)',
    ]);
  });

  it('renders every foreign key action InnoDB has, and rejects SET DEFAULT', () => {
    const fk = (onDelete: 'no action' | 'restrict' | 'set default') =>
      renderMysqlDdl({
        kind: 'addForeignKey',
        table: 'posts',
        foreignKey: {
          columns: ['a'],
          referencedTable: 'b',
          referencedColumns: ['id'],
          onDelete,
          onUpdate: 'restrict',
        },
      });
    expect(fk('no action')).toEqual([
      'ALTER TABLE `posts` ADD FOREIGN KEY (`a`) REFERENCES `b` (`id`) ON DELETE NO ACTION ON UPDATE RESTRICT',
    ]);
    expect(fk('restrict')[0]).toContain('ON DELETE RESTRICT');
    expect(() => fk('set default')).toThrow(UsageError);
    expect(() => fk('set default')).toThrow(
      /table "posts".*ON DELETE SET DEFAULT is not supported by InnoDB/,
    );
  });

  it('rejects partial and expression indexes naming the table and the index', () => {
    const partial = () =>
      renderMysqlDdl({
        kind: 'createIndex',
        table: 'posts',
        index: {
          name: 'posts_published',
          unique: false,
          parts: [{ column: 'title' }],
          where: 'title IS NOT NULL',
        },
      });
    expect(partial).toThrow(UsageError);
    expect(partial).toThrow(/table "posts", index "posts_published": partial indexes/);
    const expression = () =>
      renderMysqlDdl({
        kind: 'createTable',
        table: {
          ...posts,
          indexes: [{ name: 'posts_lower_title', unique: true, parts: [{ expression: 'lower(title)' }] }],
        },
      });
    expect(expression).toThrow(UsageError);
    expect(expression).toThrow(/table "posts", index "posts_lower_title": expression key part/);
  });

  it('renders MySQL 8 functional key parts when asked for that flavor', () => {
    expect(
      renderMysqlDdl(
        {
          kind: 'createIndex',
          table: 'users',
          index: { name: 'users_email_lower', unique: true, parts: [{ expression: 'lower(`email`)' }] },
        },
        { flavor: 'mysql' },
      ),
    ).toEqual(['CREATE UNIQUE INDEX `users_email_lower` ON `users` ((lower(`email`)))']);
  });

  it('renders index methods and prefix lengths', () => {
    const index = (method: string | undefined, length?: number) =>
      renderMysqlDdl({
        kind: 'createIndex',
        table: 't',
        index: {
          name: 'i',
          unique: false,
          parts: [{ column: 'body', ...(length ? { length } : {}) } as { column: string }],
          ...(method ? { method } : {}),
        },
      })[0];
    expect(index('fulltext')).toBe('CREATE FULLTEXT INDEX `i` ON `t` (`body`)');
    expect(index('hash')).toBe('CREATE INDEX `i` ON `t` (`body`) USING HASH');
    expect(index(undefined, 100)).toBe('CREATE INDEX `i` ON `t` (`body`(100))');
    expect(() => index('gin')).toThrow(/index method "gin"/);
  });

  it('skips the index InnoDB builds for a foreign key by itself', () => {
    const statements = renderMysqlDdl({
      kind: 'createTable',
      table: {
        ...posts,
        indexes: [{ name: 'posts_author_fk', unique: false, parts: [{ column: 'author_id' }] }],
      },
    });
    expect(statements).toHaveLength(1);
  });

  it('renders drop, add column and drop index', () => {
    expect(renderMysqlDdl({ kind: 'dropTable', table: 'posts' })).toEqual(['DROP TABLE IF EXISTS `posts`']);
    expect(
      renderMysqlDdl({
        kind: 'addColumn',
        table: 'posts',
        column: { name: 'n', type: 'integer', nullable: false, default: '0' },
      }),
    ).toEqual(['ALTER TABLE `posts` ADD COLUMN `n` INT NOT NULL DEFAULT 0']);
    expect(renderMysqlDdl({ kind: 'dropIndex', table: 'posts', name: 'i' })).toEqual([
      'DROP INDEX `i` ON `posts`',
    ]);
    expect(renderMysqlDdl({ kind: 'dropIndex', table: 'posts', name: 'i' }, { flavor: 'mariadb' })).toEqual([
      'DROP INDEX IF EXISTS `i` ON `posts`',
    ]);
  });

  it('keeps the fractional precision of introspected DATETIME / TIMESTAMP columns', () => {
    const [sql] = renderMysqlDdl({
      kind: 'createTable',
      table: {
        name: 't',
        columns: [
          {
            name: 'a',
            type: 'timestamp',
            nativeType: 'datetime',
            nullable: false,
            default: 'CURRENT_TIMESTAMP',
          },
          { name: 'b', type: 'timestamptz', nativeType: 'timestamp(3)', nullable: true },
          { name: 'c', type: 'timestamp', nativeType: 'timestamp without time zone', nullable: true },
        ],
        indexes: [],
        foreignKeys: [],
        checks: [],
      },
    });
    expect(sql).toContain('`a` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,');
    expect(sql).toContain('`b` TIMESTAMP(3) NULL');
    expect(sql).toContain('`c` DATETIME(6) NULL');
  });

  it('renders generated columns from their native type, without NULL / NOT NULL (MariaDB refuses it)', () => {
    expect(
      renderMysqlDdl({
        kind: 'addColumn',
        table: 't',
        column: {
          name: 'b',
          type: null,
          nativeType: 'int(11) GENERATED ALWAYS AS (`a` + 1) VIRTUAL',
          nullable: true,
        },
      }),
    ).toEqual(['ALTER TABLE `t` ADD COLUMN `b` int(11) GENERATED ALWAYS AS (`a` + 1) VIRTUAL']);
  });

  it('renders ON UPDATE CURRENT_TIMESTAMP with the column precision, and nothing else', () => {
    const column: MysqlColumnDefinition = {
      name: 'updated_at',
      type: 'timestamptz',
      nullable: false,
      default: 'CURRENT_TIMESTAMP',
      onUpdate: 'CURRENT_TIMESTAMP',
    };
    expect(renderMysqlDdl({ kind: 'addColumn', table: 't', column })).toEqual([
      'ALTER TABLE `t` ADD COLUMN `updated_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)',
    ]);
    const plain = { ...column, nativeType: 'timestamp', default: undefined };
    expect(renderMysqlDdl({ kind: 'addColumn', table: 't', column: plain })[0]).toMatch(
      /`updated_at` TIMESTAMP NOT NULL ON UPDATE CURRENT_TIMESTAMP$/,
    );
    const odd: MysqlColumnDefinition = { ...column, onUpdate: 'now() + 1' };
    expect(() => renderMysqlDdl({ kind: 'addColumn', table: 't', column: odd })).toThrow(
      /table "t", column "updated_at": ON UPDATE now\(\) \+ 1/,
    );
  });

  it('renders a column collation of its own after the type', () => {
    const column: MysqlColumnDefinition = {
      name: 'token',
      type: 'varchar(64)',
      nullable: false,
      collation: 'utf8mb4_bin',
    };
    expect(renderMysqlDdl({ kind: 'addColumn', table: 't', column })).toEqual([
      'ALTER TABLE `t` ADD COLUMN `token` VARCHAR(64) COLLATE utf8mb4_bin NOT NULL',
    ]);
    const bad: MysqlColumnDefinition = { ...column, collation: 'x; drop table t' };
    expect(() => renderMysqlDdl({ kind: 'addColumn', table: 't', column: bad })).toThrow(
      /table "t", column "token": invalid collation/,
    );
  });

  it('refuses a column without any type', () => {
    expect(() =>
      renderMysqlDdl({ kind: 'addColumn', table: 't', column: { name: 'x', type: null, nullable: true } }),
    ).toThrow(/table "t", column "x": no type/);
  });
});

describe('renderMysqlDefault', () => {
  it('renders the current time with the column precision', () => {
    expect(renderMysqlDefault('CURRENT_TIMESTAMP', 'TIMESTAMP(6)')).toBe('CURRENT_TIMESTAMP(6)');
    expect(renderMysqlDefault('now()', 'DATETIME(3)')).toBe('CURRENT_TIMESTAMP(3)');
    expect(renderMysqlDefault('current_timestamp()', 'DATETIME')).toBe('CURRENT_TIMESTAMP');
  });

  it('renders booleans, numbers and strings', () => {
    expect(renderMysqlDefault('true', 'TINYINT(1)')).toBe('1');
    expect(renderMysqlDefault('FALSE', 'TINYINT(1)')).toBe('0');
    expect(renderMysqlDefault('true', 'INT')).toBe('TRUE');
    expect(renderMysqlDefault('1.5', 'DOUBLE')).toBe('1.5');
    expect(renderMysqlDefault("'it''s'", 'VARCHAR(10)')).toBe("'it''s'");
    expect(renderMysqlDefault("'C:\\temp'", 'VARCHAR(10)')).toBe("'C:\\\\temp'");
  });

  it('gives TEXT, BLOB and JSON columns their default as an expression (MySQL 8 needs it)', () => {
    expect(renderMysqlDefault("'x'", 'LONGTEXT')).toBe("('x')");
    expect(renderMysqlDefault("'{}'", 'JSON')).toBe("('{}')");
  });

  it('wraps other expressions in parentheses once, and has no default for NULL', () => {
    expect(renderMysqlDefault('uuid()', 'CHAR(36)')).toBe('(uuid())');
    expect(renderMysqlDefault('(1 + 2)', 'INT')).toBe('(1 + 2)');
    expect(renderMysqlDefault('(1) + (2)', 'INT')).toBe('((1) + (2))');
    expect(renderMysqlDefault('NULL', 'INT')).toBeUndefined();
    expect(renderMysqlDefault(null, 'INT')).toBeUndefined();
    expect(renderMysqlDefault(undefined, 'INT')).toBeUndefined();
  });
});
