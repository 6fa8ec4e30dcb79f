-- The print channel's context signals (issue 12): classified documents printed, printed outside
-- clearance or need-to-know, after hours, and compartments whose documents a person printed for
-- the first time. context_daily is derived, so existing rows get 0 until detection recomputes.
ALTER TABLE context_daily ADD COLUMN classified_printed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE context_daily ADD COLUMN classified_printed_after_hours INTEGER NOT NULL DEFAULT 0;
ALTER TABLE context_daily ADD COLUMN printed_outside_need_to_know INTEGER NOT NULL DEFAULT 0;
ALTER TABLE context_daily ADD COLUMN compartments_first_printed INTEGER NOT NULL DEFAULT 0;
