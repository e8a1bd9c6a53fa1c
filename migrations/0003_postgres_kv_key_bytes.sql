-- PostgreSQL only (Store::open skips migrations named "postgres ..." on SQLite).
-- Listing by prefix is a key range in byte order. The primary key's index follows the
-- database's collation (e.g. en_US, where '/' sorts by other rules), so range scans need
-- an index in the "C" collation, which compares bytes. SQLite's primary-key index is
-- already in byte order (BINARY).
CREATE INDEX kv_key_bytes ON kv (key COLLATE "C");
