"""Every table, imported in one place for alembic and the tests."""

from hub.access.models import AuditEvent, Client
from hub.access.budgets import ClientBudget  # noqa: F401
from hub.access.audit import AuditChainHead  # noqa: F401
from hub.access.oauth import OAuthApp, OAuthCode  # noqa: F401
from hub.access.resident_tokens import ResidentLogin, ResidentToken  # noqa: F401
from hub.appointments.models import Appointment, AppointmentSlot, ClinicSession  # noqa: F401
from hub.contracts.models import (
    Contract,
    ContractPackage,
    ContractPeriod,
    ContractSequence,
    ServiceDelivery,
)
from hub.db import Base
from hub.directory.models import Organization, Practitioner, Team, TeamMember
from hub.events.models import Event, Webhook, WebhookDelivery
from hub.records.models import Encounter, Observation
from hub.maternal.models import Birth, ChildExam, MaternalVisit, Pregnancy  # noqa: F401
from hub.tuberculosis.models import TbEpisode  # noqa: F401
from hub.immunization.models import (  # noqa: F401
    AdverseEvent,
    OverdueMarker,
    VaccinationEvent,
    VaccinationSubject,
)
from hub.referrals.models import (
    Booking,
    Capacity,
    Referral,
    ReferralPrescription,
    ReferralTransition,
)
from hub.registry.models import (
    BlockingKey,
    BlockingKeyRecent,
    Household,
    Resident,
    ResidentCategory,
    ResidentIdentifier,
    SourceRecord,
)

# The adapters' shared tables (inbound log, checkpoints, switches) live with their runtime;
# importing them here only registers them with the metadata alembic compares.
from hub.reports.models import InsuranceEnrolment, LowIncomeMember, ResidentLocality  # noqa: E402
from adapters.runtime.models import (  # noqa: E402
    AdapterSwitch,
    Checkpoint,
    InboundMessage,
    OutboundMessage,
)

__all__ = [
    "AuditEvent", "Base", "BlockingKey", "BlockingKeyRecent", "Client", "Contract",
    "ContractPackage", "ContractPeriod",
    "ContractSequence", "ServiceDelivery", "Event", "Household", "Organization",
    "Practitioner", "Resident", "ResidentCategory", "ResidentIdentifier", "SourceRecord", "Team",
    "TeamMember",
    "Encounter", "Observation", "AdapterSwitch", "Checkpoint", "InboundMessage", "OutboundMessage",
    "Booking", "Capacity", "Referral", "ReferralPrescription", "ReferralTransition", "Webhook",
    "WebhookDelivery",
]
