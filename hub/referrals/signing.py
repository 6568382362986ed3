"""Whether a resident holds an active contract (签约居民), for booking priority.

The contracts domain owns the answer; until its repository is installed every resident
counts as unsigned, which only removes the priority, never a booking.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


async def is_signed(session: AsyncSession, resident_id: int) -> bool:
    try:
        from hub.contracts.repository import active_contract
    except ImportError:
        return False
    return await active_contract(session, resident_id) is not None
