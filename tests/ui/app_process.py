"""One app process for tests/ui/test_two_processes.py: the Estimates page in AppTest, signed in as a
lead, driven by commands on stdin, one per line; each answer is one line on stdout.

``render`` runs the page again and answers with the "Survey respondents" figure of the evidence
behind technology TECHNOLOGY's workforce impact; ``submit KEY`` stores one response about that
technology through the storage function the survey form calls, and answers ``ok``.

    python -m tests.ui.app_process CAMPAIGN_ID TECHNOLOGY_ID
(the database is ROADMAP_DATABASE_URL, as for the app)
"""

from __future__ import annotations

import datetime as dt
import os
import sys


def main(campaign_id: int, technology_id: int) -> None:
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    from storage.db import make_engine
    from storage.survey_submit import submit_response
    from tests.ui.helpers import APP

    config.set_option("server.address", "127.0.0.1")
    engine = make_engine(os.environ["ROADMAP_DATABASE_URL"])
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dev_role"] = "lead"
    at.run()
    at.switch_page("views/analysis_estimates.py")
    at.session_state["est_technology"] = technology_id
    at.session_state["est_evidence_quantity"] = "impact_workforce"
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "render":
            at.run()
            if at.exception:
                print("error " + "; ".join(e.message for e in at.exception).replace("\n", " "), flush=True)
                continue
            values = [m.value for m in at.metric if m.label == "Survey respondents"]
            print(values[0] if values else "none", flush=True)
        elif command == "submit":
            submit_response(engine, campaign_id, {"consent": "yes", "staff_group": "nurse"},
                            {technology_id: {"tech_use_frequency": "weekly", "tech_impact_workforce": "high"}}, rest[0],
                            now=dt.datetime.now(dt.UTC))
            print("ok", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
