"""The benchmark's baseline: a FastHttpUser asking eligibility for one device, nothing else.

    locust -f scenarios/locust/trivial.py --host http://127.0.0.1:8000 --api-key KEY
"""

from locust import events

from sim.loadtest.locust_user import TrivialUser, install

install(events)

__all__ = ["TrivialUser"]
