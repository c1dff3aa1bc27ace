#!/usr/bin/env python3
"""Makes data/points.h5, the sample input of pmr-kmeans (see data/README.md).

    python3 data/make_points.py [OUT.h5]

600 points in the plane from four Gaussian blobs of different sizes and
spreads, in random order: /points float64 [600, 2]; the blobs' true centres
in /centres float64 [4, 2] and each point's blob in /blob int32 [600], to
compare a clustering with. Seeded: the same numbers every time.
"""
import sys

import h5py
import numpy as np

rng = np.random.default_rng(2024)
centres = np.array([[-6.0, 2.0], [1.5, 7.0], [4.0, -3.0], [9.5, 3.5]])
sizes = [220, 150, 140, 90]
spread = [1.6, 1.0, 1.3, 0.7]
blob = np.repeat(np.arange(4), sizes)
pts = centres[blob] + rng.normal(0, 1, (len(blob), 2)) * np.array(spread)[blob, None]
order = rng.permutation(len(blob))
out = sys.argv[1] if len(sys.argv) > 1 else "data/points.h5"
with h5py.File(out, "w") as f:
    f["points"] = pts[order]
    f["centres"] = centres
    f["blob"] = blob[order].astype(np.int32)
print("wrote", out)
