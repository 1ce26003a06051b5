-- @id: 0001_create_entries
-- @name: Create entries
-- @description: The knowledge-base entries table and its title index
-- @version: 1.0.0
-- @timestamp: 2024-01-01T00:00:00Z
-- @rollbackSafe: true
-- @performanceImpact: low
-- @riskLevel: low
-- @dependencies: []
-- @engines: [postgresql, mysql, sqlite]
-- @transactional: true

-- UP MIGRATION: portable SQL only, so the same file runs on every engine
CREATE TABLE entries (
  id INTEGER NOT NULL PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_entries_title ON entries (title);

-- DOWN MIGRATION
DROP TABLE entries;
