"""The database becomes unreachable during use (issue 7, "Faults"): a private PostgreSQL server
is stopped and started again under a running engine (and, in test_outage_browser.py, under the
running web app).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import OperationalError

from storage.catalogue import TechnologyInput, count_technologies, create_technology
from storage.db import make_engine
from storage.migrate import upgrade_to_head
from tests.proof.private_postgres import private_postgres, unavailable_reason

pytestmark = [pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))]

# With the server down the port refuses connections at once; the connect timeout bounds the
# wait if the host itself stops answering. Either way the user hears within seconds.
PROMPT_SECONDS = 10


def test_a_write_during_an_outage_fails_promptly_and_the_same_engine_recovers():
    with private_postgres() as server:
        engine = make_engine(server.create_database("roadmap_outage"))
        try:
            upgrade_to_head(engine)
            create_technology(engine, TechnologyInput(name="Before the outage", company="Outage Ltd"))
            assert count_technologies(engine) == 1

            server.stop()
            started = time.monotonic()
            with pytest.raises(OperationalError):
                create_technology(engine, TechnologyInput(name="During the outage", company="Outage Ltd"))
            assert time.monotonic() - started < PROMPT_SECONDS
            with pytest.raises(OperationalError):
                count_technologies(engine)

            server.start()
            # Same engine, same process: pool_pre_ping replaces the connections the outage killed.
            create_technology(engine, TechnologyInput(name="After the outage", company="Outage Ltd"))
            assert count_technologies(engine) == 2
        finally:
            engine.dispose()
