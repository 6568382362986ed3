"""Lists that come in as files: the low-income list (低收入名单) and insurance enrolment (参保)."""
