-- A profile merged into another customer (an anonymous browser that identified, an aliased id) gets a last
-- row in customer_state: no stage, its last sequence, and merged_into naming the customer it is now part of.
-- (18.16 has no ADD COLUMN IF NOT EXISTS; schema_migrations runs this once.)
-- Current customers are the rows with merged_into = ''. Rows projected before this migration have '' too:
-- profiles merged before it stay as they were last projected.
ALTER TABLE {{db}}.customer_state ADD COLUMN merged_into String DEFAULT '' AFTER updated_at_ms;
