-- First start of the compose Postgres: the warehouse and Dagster's own database on one server
-- (the warehouse migrations create their schemas and the vector extension on first connect).
CREATE DATABASE bizo;
CREATE DATABASE dagster;
