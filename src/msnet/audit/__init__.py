"""The append-only, hash-chained audit log: record, verify, and (through routes) query."""
