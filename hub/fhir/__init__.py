"""The FHIR R4B facade: REST read and search, $everything, $match and $graphql over the
hub's own records, through the same access policy, masking and audit as GraphQL."""
