-- Connection credentials, sealed with warehouse.crypto (Fernet under BIZO_SECRET_KEY).
ALTER TABLE app.connections
    ADD COLUMN credentials bytea,
    ADD COLUMN last_tested_at timestamptz,
    ADD COLUMN last_test_result text;
