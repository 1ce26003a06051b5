import { type TableDefinition, UsageError } from '@cmpkg/core';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { quoteSqliteIdentifier, renderSqliteDdl } from './sqlite-ddl.js';

const authors: TableDefinition = {
  name: 'authors',
  columns: [
    { name: 'id', type: 'bigint', nullable: false, autoIncrement: true },
    { name: 'email', type: 'varchar(200)', nullable: false },
    { name: 'active', type: 'boolean', nullable: false, default: 'true' },
    { name: 'created_at', type: 'timestamptz', nullable: false, default: 'CURRENT_TIMESTAMP' },
  ],
  primaryKey: { columns: ['id'] },
  indexes: [{ name: 'authors_email_lower', unique: true, parts: [{ expression: 'lower(email)' }] }],
  foreignKeys: [],
  checks: [],
};

const posts: TableDefinition = {
  name: 'posts',
  columns: [
    { name: 'id', type: 'uuid', nullable: false },
    { name: 'author_id', type: 'bigint', nullable: false },
    { name: 'title', type: 'varchar(120)', nullable: false, default: "'it''s'" },
    { name: 'price', type: 'decimal(10,2)', nullable: false, default: '0' },
    { name: 'ratio', type: 'double', nullable: true, default: '-1.5' },
    { name: 'slug', type: null, nativeType: 'CITEXT', nullable: true, default: "lower('X')" },
    { name: 'anything', type: null, nullable: true },
  ],
  primaryKey: { name: 'posts_pk', columns: ['id'] },
  indexes: [
    {
      name: 'posts_author_title',
      unique: false,
      parts: [{ column: 'author_id' }, { column: 'title', descending: true }],
    },
    { name: 'posts_published', unique: false, parts: [{ column: 'title' }], where: 'price > 0' },
  ],
  foreignKeys: [
    {
      name: 'posts_author_fk',
      columns: ['author_id'],
      referencedTable: 'authors',
      referencedColumns: ['id'],
      onDelete: 'cascade',
      onUpdate: 'no action',
    },
  ],
  checks: [{ name: 'posts_price_check', expression: 'price >= 0' }, { expression: "title <> ''" }],
};

/** Applies statements to a fresh in-memory database, so a rendering that SQLite rejects fails the test. */
function apply(...statements: string[]): Database.Database {
  const db = new Database(':memory:');
  for (const s of statements) db.exec(s);
  return db;
}

describe('quoteSqliteIdentifier', () => {
  it('double-quotes and doubles quotes inside', () => {
    expect(quoteSqliteIdentifier('a"b')).toBe('"a""b"');
    expect(quoteSqliteIdentifier('order')).toBe('"order"');
    expect(quoteSqliteIdentifier('')).toBe('""');
  });
});

describe('renderSqliteDdl', () => {
  it('renders createTable with the rowid alias, defaults and an expression index', () => {
    expect(renderSqliteDdl({ kind: 'createTable', table: authors })).toEqual([
      `CREATE TABLE "authors" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "email" VARCHAR(200) NOT NULL,
  "active" BOOLEAN NOT NULL DEFAULT TRUE,
  "created_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
)`,
      'CREATE UNIQUE INDEX "authors_email_lower" ON "authors" ((lower(email)))',
    ]);
  });

  it('renders named constraints, foreign keys as table constraints, native types and partial indexes', () => {
    expect(renderSqliteDdl({ kind: 'createTable', table: posts })).toEqual([
      `CREATE TABLE "posts" (
  "id" UUID NOT NULL,
  "author_id" BIGINT NOT NULL,
  "title" VARCHAR(120) NOT NULL DEFAULT 'it''s',
  "price" DECIMAL(10,2) NOT NULL DEFAULT 0,
  "ratio" DOUBLE DEFAULT -1.5,
  "slug" CITEXT DEFAULT (lower('X')),
  "anything",
  CONSTRAINT "posts_pk" PRIMARY KEY ("id"),
  CONSTRAINT "posts_price_check" CHECK (price >= 0),
  CHECK (title <> ''),
  CONSTRAINT "posts_author_fk" FOREIGN KEY ("author_id") REFERENCES "authors" ("id") ON DELETE CASCADE ON UPDATE NO ACTION
)`,
      'CREATE INDEX "posts_author_title" ON "posts" ("author_id", "title" DESC)',
      'CREATE INDEX "posts_published" ON "posts" ("title") WHERE price > 0',
    ]);
  });

  it('renders SQL that SQLite accepts', () => {
    const db = apply(
      ...renderSqliteDdl({ kind: 'createTable', table: authors }),
      ...renderSqliteDdl({ kind: 'createTable', table: posts }),
    );
    try {
      db.prepare('insert into authors (email) values (?)').run('a@x');
      const row = db.prepare('select id, active, created_at from authors').get() as Record<string, unknown>;
      expect(row.id).toBe(1);
      expect(row.active).toBe(1);
      expect(String(row.created_at)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    } finally {
      db.close();
    }
  });

  it('quotes every identifier', () => {
    const [create, index] = renderSqliteDdl({
      kind: 'createTable',
      table: {
        name: 'we"ird',
        columns: [{ name: 'select', type: 'text', nullable: true }],
        primaryKey: { name: 'p"k', columns: ['select'] },
        indexes: [{ name: 'i"x', unique: false, parts: [{ column: 'select' }] }],
        foreignKeys: [],
        checks: [],
      },
    });
    expect(create).toContain('CREATE TABLE "we""ird"');
    expect(create).toContain('CONSTRAINT "p""k" PRIMARY KEY ("select")');
    expect(index).toBe('CREATE INDEX "i""x" ON "we""ird" ("select")');
    apply(create!, index!).close();
  });

  it('names the primary key of the rowid alias inline', () => {
    const [create] = renderSqliteDdl({
      kind: 'createTable',
      table: { ...authors, primaryKey: { name: 'authors_pk', columns: ['id'] }, indexes: [] },
    });
    expect(create).toContain('"id" INTEGER CONSTRAINT "authors_pk" PRIMARY KEY AUTOINCREMENT,');
    apply(create!).close();
  });

  it('refuses autoIncrement anywhere but on the only primary-key column, naming table and column', () => {
    const withPk = (columns: string[]) =>
      renderSqliteDdl({ kind: 'createTable', table: { ...authors, primaryKey: { columns } } });
    expect(() => withPk(['id', 'email'])).toThrow(UsageError);
    expect(() => withPk(['id', 'email'])).toThrow(/table "authors", column "id".*only primary-key column/);
    expect(() => withPk(['email'])).toThrow(/column "id"/);
    expect(() =>
      renderSqliteDdl({ kind: 'createTable', table: { ...authors, primaryKey: undefined } }),
    ).toThrow(/primary key is missing/);
    const textKey = {
      ...authors,
      columns: [{ name: 'id', type: 'text' as const, nullable: false, autoIncrement: true }],
    };
    expect(() => renderSqliteDdl({ kind: 'createTable', table: { ...textKey, indexes: [] } })).toThrow(
      /needs an integer type/,
    );
    const withDefault = {
      ...authors,
      indexes: [],
      columns: [{ name: 'id', type: 'integer' as const, nullable: false, autoIncrement: true, default: '1' }],
    };
    expect(() => renderSqliteDdl({ kind: 'createTable', table: withDefault })).toThrow(
      /cannot also have a default/,
    );
  });

  it('refuses addForeignKey: SQLite cannot alter constraints', () => {
    const render = () =>
      renderSqliteDdl({
        kind: 'addForeignKey',
        table: 'posts',
        foreignKey: {
          name: 'fk',
          columns: ['a'],
          referencedTable: 'b',
          referencedColumns: ['id'],
          onDelete: 'no action',
          onUpdate: 'no action',
        },
      });
    expect(render).toThrow(UsageError);
    expect(render).toThrow(
      'SQLite cannot add a foreign key to an existing table; recreate the table with it',
    );
  });

  it('renders addColumn as ALTER TABLE ADD COLUMN', () => {
    const statements = renderSqliteDdl({
      kind: 'addColumn',
      table: 'authors',
      column: { name: 'score', type: 'real', nullable: false, default: '0' },
    });
    expect(statements).toEqual(['ALTER TABLE "authors" ADD COLUMN "score" FLOAT NOT NULL DEFAULT 0']);
    apply(...renderSqliteDdl({ kind: 'createTable', table: authors }), ...statements).close();
  });

  it('refuses columns ALTER TABLE cannot add', () => {
    expect(() =>
      renderSqliteDdl({
        kind: 'addColumn',
        table: 't',
        column: { name: 'c', type: 'text', nullable: false },
      }),
    ).toThrow(/table "t", column "c": SQLite cannot add a NOT NULL column without a default/);
    expect(() =>
      renderSqliteDdl({
        kind: 'addColumn',
        table: 't',
        column: { name: 'id', type: 'bigint', nullable: false, autoIncrement: true },
      }),
    ).toThrow(UsageError);
  });

  it('renders createIndex, dropIndex and dropTable', () => {
    expect(
      renderSqliteDdl({
        kind: 'createIndex',
        table: 'posts',
        index: {
          name: 'posts_mixed',
          unique: true,
          parts: [{ expression: "coalesce(title, '')", descending: true }, { column: 'id' }],
          where: "title <> 'x'",
        },
      }),
    ).toEqual([
      `CREATE UNIQUE INDEX "posts_mixed" ON "posts" ((coalesce(title, '')) DESC, "id") WHERE title <> 'x'`,
    ]);
    expect(renderSqliteDdl({ kind: 'dropIndex', table: 'posts', name: 'posts_mixed' })).toEqual([
      'DROP INDEX IF EXISTS "posts_mixed"',
    ]);
    expect(renderSqliteDdl({ kind: 'dropTable', table: 'posts' })).toEqual(['DROP TABLE IF EXISTS "posts"']);
  });

  it('refuses index definitions SQLite cannot express', () => {
    const index = (over: object) =>
      renderSqliteDdl({
        kind: 'createIndex',
        table: 'posts',
        index: { name: 'i', unique: false, parts: [{ column: 'a' }], ...over },
      });
    expect(() => index({ parts: [] })).toThrow(/table "posts", index "i"/);
    expect(() => index({ method: 'gin' })).toThrow(/only b-tree/);
    expect(index({ method: 'btree' })).toEqual(['CREATE INDEX "i" ON "posts" ("a")']);
    expect(() => index({ parts: [{ column: 'a', expression: 'a + 1' }] })).toThrow(/exactly one of column/);
  });

  it('names the table and column of a type that is not portable', () => {
    expect(() =>
      renderSqliteDdl({
        kind: 'createTable',
        table: { ...posts, columns: [{ name: 'm', type: 'money' as 'text', nullable: true }] },
      }),
    ).toThrow(/table "posts", column "m": "money" is not a portable column type/);
  });

  it('refuses foreign keys whose column lists do not match', () => {
    const fk = { ...posts.foreignKeys[0]!, referencedColumns: ['id', 'email'] };
    expect(() => renderSqliteDdl({ kind: 'createTable', table: { ...posts, foreignKeys: [fk] } })).toThrow(
      /foreign key "posts_author_fk": 1 column\(s\) reference 2/,
    );
  });
});
