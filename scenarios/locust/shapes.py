"""Load shapes by name (``--shape steady|ramp|spike|soak|os_release_day``).

Load it beside a user locustfile:

    locust -f scenarios/locust/devices.py,scenarios/locust/shapes.py --shape spike ...

The stages are data in ``sim.loadtest.shapes``.
"""

from sim.loadtest.locust_shape import StagesShape

__all__ = ["StagesShape"]
