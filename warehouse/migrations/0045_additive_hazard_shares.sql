-- A third data-driven model writes channel-set shares: the additive-hazard (survival) model
-- of ml/hazard_attribution.py.
ALTER TABLE attribution.channel_set_shares DROP CONSTRAINT channel_set_shares_model_check;
ALTER TABLE attribution.channel_set_shares
    ADD CONSTRAINT channel_set_shares_model_check
    CHECK (model IN ('markov', 'shapley', 'additive_hazard'));
