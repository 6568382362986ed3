"""Personal data sent over MLLP never reaches a log line: good messages, a broken ID number,
a message the adapter cannot parse, junk outside frames, a reference to an unknown
patient — with everything logged at DEBUG captured."""

from __future__ import annotations

from typing import Any

from adapters.his.mllp import MllpClient, frame
from tests.adapters.his_support import adt, running, settle
from tests.phi_support import ADDRESS, ID_NUMBER, NAME, PHONE, assert_no_phi, captured_logs


async def test_mllp_with_phi_logs_none_of_it(hub: Any) -> None:
    address = f"{ADDRESS}^^广州市^广东省"
    broken = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
    with captured_logs("DEBUG") as logs:
        async with running(hub) as his:
            async with MllpClient("127.0.0.1", his.port) as client:
                await client.send(adt("A04", "PHI-1", "MRPHI1", ID_NUMBER, name=NAME,
                                      phone=PHONE, address=address))  # fmt: skip
                await client.send(adt("A08", "PHI-2", "MRPHI1", broken, name=NAME,
                                      phone=PHONE, address=address))  # fmt: skip
                # not HL7 at all, then a segment the parser rejects, both carrying PHI
                await client.send(f"{NAME}|{ID_NUMBER}|{PHONE}|{ADDRESS}".encode())
                await client.send(
                    f"MSH|^~\\&|HIS|X|FDHUB|FDHUB|2026||ADT^A99|PHI-3|P|2.5\rPID|1||{ID_NUMBER}"
                    f"||{NAME}||notadate|M|||{address}||{PHONE}\r".encode()
                )
                # an update of a patient the hub has never heard of (parked, then retried)
                await client.send(adt("A08", "PHI-4", "MRPHI9", ID_NUMBER, name=NAME,
                                      phone=PHONE, address=address))  # fmt: skip
            import asyncio

            reader, writer = await asyncio.open_connection("127.0.0.1", his.port)
            writer.write(
                f"junk {NAME} {PHONE}".encode() + frame(b"MSH|broken " + ID_NUMBER.encode())
            )
            await writer.drain()
            writer.close()
            await settle(hub)
    text = logs.getvalue()
    assert "his" in text  # the adapter did log (so the check below can fail)
    assert_no_phi(text)
