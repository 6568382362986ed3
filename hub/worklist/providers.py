"""The work list's providers, one per domain that owes residents something. A domain adds
its provider here (and its kinds to `WorkItemKind`)."""

from __future__ import annotations

from hub.immunization.worklist import immunization_items
from hub.appointments.worklist import appointment_items
from hub.maternal.worklist import maternal_items
from hub.referrals.worklist import referral_items
from hub.tuberculosis.worklist import tb_items
from hub.worklist.service import Provider

PROVIDERS: list[Provider] = [referral_items, maternal_items, immunization_items,
                              appointment_items, tb_items]
