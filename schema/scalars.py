"""Enums shared by the schema, taken from the hub's own enums."""

import strawberry

from hub.directory.models import OrganizationKind as _OrganizationKind
from hub.directory.models import PractitionerRole as _PractitionerRole
from hub.registry.models import IdentifierSystem as _IdentifierSystem
from hub.registry.models import InsuranceType as _InsuranceType
from hub.registry.models import PopulationCategory as _PopulationCategory

OrganizationKind = strawberry.enum(_OrganizationKind, description="机构类型")
PractitionerRole = strawberry.enum(
    _PractitionerRole, description="Role/qualification of a practitioner"
)
IdentifierSystem = strawberry.enum(_IdentifierSystem, description="Kinds of resident identifier")
InsuranceType = strawberry.enum(_InsuranceType, description="参保类型")
PopulationCategory = strawberry.enum(_PopulationCategory, description="人群类型")
