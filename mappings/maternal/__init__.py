"""Maternal-child (妇幼) local codes, fulfilment rules and FHIR forms (data in YAML)."""
