-- warehouse: the parcels still expected, by age. Whatever lists or counts
-- them (the quality report's backlog, a dock's list of parcels to receive)
-- reads this small index instead of every parcel ever received; the
-- received ones leave it.
CREATE INDEX expected_parcels_open ON expected_parcels (created_at) WHERE status = 'expected';
