"""Reports (统计报表): one pure query layer that GraphQL, the file exports and the dashboard use."""
