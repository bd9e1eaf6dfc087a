-- llmpulse schema v1, merges: how llm_calls merges its parts (no column or name changes).
-- Statements are separated by lines holding only ";".

-- Every merge of llm_calls is vertical: the sorting key's columns first, then one column at a time. The
-- sink writes a part per chunk (tens of thousands of rows), and ClickHouse merged such parts horizontally
-- (all 35 columns at once, every source part's read and write buffers open together) until their rows
-- reach 131,072: measured on the embedded store, one such merge of 6-8 parts took about 250 MiB; vertical
-- merges of the same parts 20-55 MiB.
ALTER TABLE llm_calls MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1
