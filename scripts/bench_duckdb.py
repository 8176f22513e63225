"""DuckDB's time for the same work `servicewatch bench --statements` times,
on the same file: a new connection per run, the bounds statement, then the
daily aggregation over the days the bounds give, results fetched as Arrow.
(Without `--statements`, servicewatch answers a clean Parquet file from its
footer and a dense count: the same rows out, not the same work.)

The statements are api/src/warehouse/sql.rs's `Source::bounds` and
`Source::daily` (UTC, no service filter) in DuckDB's syntax, with the same
semantics: `TRY_CAST(ts AS TIMESTAMP)`, the day as a plain
`CAST(.. AS DATE)` in UTC (the session time zone is UTC, as servicewatch's
SQL requires), the same valid window and dropped-row reasons, the same
`GROUP BY` and `ORDER BY service, day`. `import duckdb` is not timed.

    python3 scripts/bench_duckdb.py FILE.parquet [--runs N]

Peak RSS is this process's `ru_maxrss`: it includes the Python interpreter,
duckdb's module and pyarrow (the "after import" figure is that share).
"""
import argparse
import datetime as dt
import resource
import time

import duckdb

# sql.rs's FIRST_VALID_DAY and END_VALID_DAY.
MIN_DAY = dt.date(1901, 1, 1)
END_DAY = dt.date(2200, 1, 1)


def midnight(d):
    return dt.datetime(d.year, d.month, d.day)


def statements(ts, svc):
    t = f"TRY_CAST({ts} AS TIMESTAMP)"
    bounds = f"""
SELECT MIN(CASE WHEN sw_why = 0 THEN sw_ts END) AS first_ts,
       MAX(CASE WHEN sw_why = 0 THEN sw_ts END) AS last_ts,
       SUM(CASE WHEN sw_why = 0 THEN 1 ELSE 0 END) AS n,
       SUM(CASE WHEN sw_why = 1 THEN 1 ELSE 0 END) AS null_service,
       SUM(CASE WHEN sw_why = 2 THEN 1 ELSE 0 END) AS null_timestamp,
       SUM(CASE WHEN sw_why = 3 THEN 1 ELSE 0 END) AS out_of_range
FROM (SELECT sw_ts,
             CASE WHEN sw_service IS NULL THEN 1
                  WHEN sw_ts >= $min_ts AND sw_ts < $end_ts THEN 0
                  WHEN sw_ts IS NOT NULL OR sw_day < $min_day OR sw_day >= $end_day THEN 3
                  ELSE 2 END AS sw_why
      FROM (SELECT {t} AS sw_ts, TRY_CAST({ts} AS DATE) AS sw_day, {svc} AS sw_service
            FROM read_parquet($path)) AS sw_cast) AS sw_rows
"""
    s = f"CAST({svc} AS VARCHAR)"
    daily = f"""
SELECT {s} AS service, CAST({t} AS DATE) AS day, COUNT(*) AS n
FROM read_parquet($path)
WHERE {t} >= $from_ts AND {t} < $to_ts AND {s} IS NOT NULL
GROUP BY {s}, CAST({t} AS DATE)
ORDER BY service, day
"""
    return bounds, daily


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timestamp", default="transaction_timestamp")
    ap.add_argument("--service", default="orderservice")
    args = ap.parse_args()
    bounds_sql, daily_sql = statements(f'"{args.timestamp}"', f'"{args.service}"')
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for run in range(1, max(args.runs, 1) + 1):
        start = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        first, last, n, null_service, null_ts, out_of_range = con.sql(
            bounds_sql,
            params={
                "path": args.path,
                "min_ts": midnight(MIN_DAY),
                "end_ts": midnight(END_DAY),
                "min_day": MIN_DAY,
                "end_day": END_DAY,
            },
        ).fetchall()[0]
        if first is None:
            raise SystemExit("the file has no rows")
        # As `servicewatch bench`: from the first day with data to the
        # day after the last, at midnight UTC.
        from_ts = midnight(first.date())
        to_ts = midnight(last.date() + dt.timedelta(days=1))
        daily = con.sql(daily_sql, params={"path": args.path, "from_ts": from_ts, "to_ts": to_ts})
        table = daily.to_arrow_table()
        ms = (time.perf_counter() - start) * 1000
        con.close()
        times.append(ms)
        services = len(table.column("service").unique()) if run == 1 else None
        print(
            f"run {run}: {n} rows -> {table.num_rows} service-days"
            + (f", {services} services" if services is not None else "")
            + f" in {ms:.0f} ms (dropped: {null_service or 0} null service, {null_ts or 0} null time,"
            f" {out_of_range or 0} out of range)"
        )
    times.sort()
    print(f"cold aggregation (bounds + daily), median of {len(times)}: {times[len(times) // 2]:.0f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"peak RSS: {peak / 1024:.0f} MB (includes the Python interpreter, duckdb and pyarrow:"
        f" {rss_import / 1024:.0f} MB after import)"
    )


if __name__ == "__main__":
    main()
