-- The change log is pruned (Store::prune_changes). Followers compare their revision with
-- this horizon: one at or below it may have missed pruned changes and reloads everything.
ALTER TABLE meta ADD COLUMN pruned_through BIGINT NOT NULL DEFAULT 0;
