"""GraphQL for reports: thin resolvers over hub.reports.service."""
