"""DuckDB's time for the same daily aggregation servicewatch runs (cold: a
new connection each run, reading the Parquet file)."""
import sys
import time

import duckdb

path = sys.argv[1]
SQL = """
SELECT CAST(orderservice AS VARCHAR) AS service,
       CAST(CAST(transaction_timestamp AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE) AS day,
       COUNT(*) AS n
FROM read_parquet(?)
WHERE orderservice IS NOT NULL
GROUP BY ALL ORDER BY service, day
"""
times = []
for run in range(1, 4):
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute("SELECT COUNT(*), MIN(transaction_timestamp), MAX(transaction_timestamp) FROM read_parquet(?)", [path]).fetchone()
    out = con.execute(SQL, [path]).fetchall()
    ms = (time.perf_counter() - start) * 1000
    times.append(ms)
    print(f"run {run}: {rows[0]} rows -> {len(out)} service-days in {ms:.0f} ms")
    con.close()
times.sort()
print(f"cold aggregation (bounds + daily), median of 3: {times[1]:.0f} ms")
