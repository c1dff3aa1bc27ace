#!/usr/bin/env python3
"""Writes data/sensors.h5, the sample input of pmr-histogram (see data/README.md).

    python3 data/make_sensors.py [OUT.h5]

A week of made-up readings from a small sensor network, with the blemishes
real data has: numpy's PCG64 with a fixed seed, so the file is the same on
every machine.
"""
import sys

import h5py
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "data/sensors.h5"
rng = np.random.Generator(np.random.PCG64(2024))
minutes = 7 * 24 * 60 // 2  # a reading every two minutes for a week
t = np.arange(minutes) * 2.0
# Air temperature in degrees C: a daily cycle, weather, noise, to 0.01 C;
# the sensor dropped out now and then (NaN) and once read a stuck -273.15.
temp = 12 + 6 * np.sin(2 * np.pi * (t / 1440 - 0.3)) + np.cumsum(rng.normal(0, 0.05, minutes))
temp = np.round(temp + rng.normal(0, 0.3, minutes), 2)
temp[rng.choice(minutes, 40, replace=False)] = np.nan
temp[1234] = -273.15
# Request latencies in ms, float32: lognormal, with timeouts recorded as +Inf.
lat = rng.lognormal(np.log(20), 0.8, 6000).astype(np.float32)
lat[rng.choice(6000, 12, replace=False)] = np.inf
# Particle counts per minute from four detectors, int16 [n, 4].
counts = rng.poisson([3.0, 7.5, 12.0, 40.0], (2000, 4)).astype(np.int16)
with h5py.File(out, "w") as f:
    f.attrs["description"] = "pmr sample data: sensor readings for pmr-histogram"
    kw = dict(compression="gzip", shuffle=True)
    d = f.create_dataset("weather/temperature", data=temp, chunks=(1024,), **kw)
    d.attrs["units"] = "degC"
    d = f.create_dataset("network/latency_ms", data=lat, chunks=(1024,), **kw)
    d.attrs["units"] = "ms"
    d = f.create_dataset("detectors/counts", data=counts, chunks=(500, 4), **kw)
    d.attrs["units"] = "particles per minute"
