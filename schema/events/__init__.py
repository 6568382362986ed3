"""GraphQL for the change feed: subscriptions and webhooks."""
