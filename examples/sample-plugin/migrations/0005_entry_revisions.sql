-- @id: 0005_entry_revisions
-- @name: Entry status and revisions
-- @description: Entries get a status (draft or published; existing entries are published) and an entry_revisions table that keeps every version of an entry, filled with revision 1 of each existing entry
-- @version: 2.0.0
-- @timestamp: 2024-03-01T00:00:00Z
-- @type: schema
-- @category: upgrade
-- @rollbackSafe: true
-- @performanceImpact: medium
-- @riskLevel: high
-- @estimatedDuration: 10
-- @dependencies: [0001_create_entries]
-- @engines: [postgresql, mysql, sqlite]

-- UP MIGRATION: a schema change and the data migration that goes with it
ALTER TABLE entries ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'published';

CREATE TABLE entry_revisions (
  entry_id INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  title VARCHAR(200) NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (entry_id, revision),
  FOREIGN KEY (entry_id) REFERENCES entries (id) ON DELETE CASCADE
);

-- Every existing entry becomes revision 1 of itself, with its own creation time.
INSERT INTO entry_revisions (entry_id, revision, title, body, created_at)
SELECT id, 1, title, body, created_at FROM entries;

-- DOWN MIGRATION: the revisions go (revision 1 is still the entry itself), and so does the status
DROP TABLE entry_revisions;
ALTER TABLE entries DROP COLUMN status;
