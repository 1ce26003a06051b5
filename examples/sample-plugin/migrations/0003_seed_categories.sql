-- @id: 0003_seed_categories
-- @name: Seed categories
-- @description: The categories table and the categories every knowledge base starts with
-- @version: 1.0.0
-- @timestamp: 2024-01-03T00:00:00Z
-- @rollbackSafe: true
-- @performanceImpact: low
-- @riskLevel: low
-- @dependencies: [0001_create_entries]

-- UP MIGRATION
CREATE TABLE categories (
  id INTEGER NOT NULL PRIMARY KEY,
  slug VARCHAR(64) NOT NULL UNIQUE,
  name VARCHAR(200) NOT NULL
);

-- Explicit ids keep the seed identical on every engine (no sequence or AUTO_INCREMENT involved).
INSERT INTO categories (id, slug, name) VALUES (1, 'general', 'General');
INSERT INTO categories (id, slug, name) VALUES (2, 'how-to', 'How-to guides');
INSERT INTO categories (id, slug, name) VALUES (3, 'reference', 'Reference; facts and tables');
INSERT INTO categories (id, slug, name) VALUES (4, 'troubleshooting', 'Troubleshooting');

-- DOWN MIGRATION
DELETE FROM categories WHERE id IN (1, 2, 3, 4);
DROP TABLE categories;
