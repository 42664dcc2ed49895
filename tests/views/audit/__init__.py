"""The audit log viewer and its exports (audit blueprint)."""
