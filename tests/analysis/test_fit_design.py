"""The fit's design points: a Latin hypercube from ``scipy.stats.qmc``."""

from __future__ import annotations

import numpy as np

from sim.analysis.fit import latin_hypercube


def test_latin_hypercube_has_one_point_per_stratum_of_every_axis() -> None:
    """n points in the box; on each axis, exactly one falls in each of the n equal strata;
    the same generator state gives the same points."""
    box = np.array([[0.0, 2.0], [-1.0, 1.0], [10.0, 20.0]])
    pts = latin_hypercube(box, 16, np.random.default_rng(3))
    assert pts.shape == (16, 3)
    assert ((pts >= box[:, 0]) & (pts <= box[:, 1])).all()
    for d in range(3):
        strata = np.floor((pts[:, d] - box[d, 0]) / (box[d, 1] - box[d, 0]) * 16)
        assert sorted(strata.astype(int).tolist()) == list(range(16))
    np.testing.assert_array_equal(pts, latin_hypercube(box, 16, np.random.default_rng(3)))
