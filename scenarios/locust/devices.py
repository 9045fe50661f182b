"""Simulated devices against the eligibility API: one FastHttpUser per device.

    locust -f scenarios/locust/devices.py --host http://127.0.0.1:8000 --api-key KEY

Add ``,scenarios/locust/shapes.py`` to ``-f`` for a load shape (``--shape``).
The behaviour lives in ``sim.loadtest``; options and their environment
variables are in scenarios/locust/README.md. Headless, options that cannot run (no
``--api-key``, say) stop Locust with one line and exit code 2 before the test starts.
"""

from locust import events

from sim.loadtest.locust_user import DeviceUser, install

install(events)

__all__ = ["DeviceUser"]
