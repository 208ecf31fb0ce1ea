-- A stored world is reused only if the code that would generate it is the same version.
ALTER TABLE sandbox.world_meta ADD COLUMN generator_version integer NOT NULL DEFAULT 1;
