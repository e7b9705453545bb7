-- Per-provider settings as one JSON document (scimd_core::provider::ProviderSettings): a
-- setting added later needs no schema change; one the document lacks takes its default.
ALTER TABLE provider ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
