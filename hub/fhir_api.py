"""/fhir routes (kept importable here for hub.app): see the hub.fhir package."""

from __future__ import annotations

from hub.fhir.routes import routes as _head
from hub.fhir.routes import tail as _tail

routes = [*_head, *_tail]
