-- The console's argument search (`JobFilter.argumentsContain`, jsonb `@>`) is served by
-- a GIN index that 0016 built over every job's arguments. Jobs without arguments (`{}`,
-- e.g. maintenance and other argument-less kinds) cannot be what such a search looks
-- for — containing a non-empty object needs a non-empty object — yet each of their
-- inserts wrote a GIN entry, 10–30 % of a bulk enqueue's cost (pgbench, 1 000-row
-- inserts into queue.jobs with and without the index). The index now covers only jobs
-- with arguments; the search states `args <> '{}'` so the planner can use it.
-- On a large table this rebuild blocks writes to queue.jobs while it runs.
DROP INDEX queue.jobs_args_idx;
CREATE INDEX jobs_args_idx ON queue.jobs USING gin (args jsonb_path_ops) WHERE args <> '{}'::jsonb;
