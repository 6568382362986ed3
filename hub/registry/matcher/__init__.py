"""The matcher (pure, no database): see hub.registry.matching for the overview."""
