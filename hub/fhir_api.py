"""/fhir routes (kept importable here for hub.app): see the hub.fhir package."""

from __future__ import annotations

from hub.fhir import graphql, operations, writes
from hub.fhir.routes import routes as _head
from hub.fhir.routes import tail as _tail

# operations before the generic /fhir/{type}/{id} routes
routes = [*_head, *operations.routes, *writes.routes, *graphql.routes(), *_tail]
