-- Each stored curve carries its chart (spend grid → expected revenue a day, with the band of
-- the bootstrap draws), drawn by the agents when they fit it, so readers such as the API need
-- no curve math.
ALTER TABLE app.response_curves ADD COLUMN chart jsonb NOT NULL DEFAULT '[]'::jsonb;
