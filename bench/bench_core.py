"""etl_core throughput and memory, against a straightforward implementation and DuckDB.

Prints figures; asserts nothing. Each run happens in a fresh subprocess so its peak RSS is its own.
Usage: python bench/bench_core.py [--rows 1000000] [--big-mb 1024] [--skip-big] [--skip-naive]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def ensure_file(path: Path, rows: int) -> Path:
    from etl_core.synth import write_csv

    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            write_csv(out, rows)
        tmp.rename(path)
    return path


# --- the three implementations, each run in a child process -----------------------------------------


def run_etl(path: Path, out_dir: Path) -> dict:
    from etl_core import process

    with open(path, "rb") as src, open(out_dir / "r.jsonl", "wb") as r, open(out_dir / "j.jsonl", "wb") as j:
        s = process(src, r, j)
    return {"rows": s.rows, "valid": s.valid, "rejected": s.rejected}


def run_naive(path: Path, out_dir: Path) -> dict:
    """The straightforward version: DictReader into a list, strptime per format, json.dumps per row."""
    formats = ("%Y-%m-%d", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    good, bad = [], []
    for row in rows:
        row = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        if not row.get("id") or not row.get("name") or None in row:
            bad.append(row)
            continue
        parsed = None
        for fmt in formats:
            try:
                parsed = datetime.strptime(row["date"], fmt).date().isoformat()
                break
            except (ValueError, TypeError):
                pass
        if parsed is None:
            bad.append(row)
            continue
        row["date"] = parsed
        try:
            for c in ("amount", "quantity", "price"):
                v = float(row[c])
                if v != v or v in (float("inf"), float("-inf")):
                    raise ValueError(c)
                row[c] = v
        except (ValueError, TypeError):
            bad.append(row)
            continue
        good.append(row)
    with open(out_dir / "r.jsonl", "w") as r:
        for row in good:
            r.write(json.dumps(row) + "\n")
    with open(out_dir / "j.jsonl", "w") as j:
        for row in bad:
            j.write(json.dumps(row, default=str) + "\n")
    return {"rows": len(rows), "valid": len(good), "rejected": len(bad)}


def run_duckdb(path: Path, out_dir: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    fmts = "['%Y-%m-%d', '%m/%d/%Y', '%d-%m-%Y', '%Y/%m/%d']"
    con.execute(
        f"""
        CREATE TEMP TABLE t AS SELECT
          trim(id) AS id, trim(name) AS name, trim(email) AS email,
          CAST(try_strptime(trim(date), {fmts}) AS DATE) AS date,
          try_cast(trim(amount) AS DOUBLE) AS amount,
          try_cast(trim(quantity) AS BIGINT) AS quantity,
          try_cast(trim(price) AS DOUBLE) AS price
        FROM read_csv('{path}', all_varchar=true, header=true, null_padding=true, ignore_errors=true)
        """
    )
    ok = "id <> '' AND name <> '' AND date IS NOT NULL AND isfinite(amount) AND isfinite(price)"
    con.execute(f"COPY (SELECT * FROM t WHERE {ok}) TO '{out_dir / 'r.jsonl'}' (FORMAT json)")
    con.execute(
        f"COPY (SELECT * FROM t WHERE NOT ({ok}) OR ({ok}) IS NULL) TO '{out_dir / 'j.jsonl'}' (FORMAT json)"
    )
    valid = con.execute(f"SELECT count(*) FROM t WHERE {ok}").fetchone()[0]
    total = con.execute("SELECT count(*) FROM t").fetchone()[0]
    return {"rows": total, "valid": valid, "rejected": total - valid}


RUNNERS = {"etl_core": run_etl, "naive": run_naive, "duckdb": run_duckdb}


def child(name: str, path: str, out_dir: str) -> None:
    start = time.perf_counter()
    counts = RUNNERS[name](Path(path), Path(out_dir))
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": rss_mb, **counts}))


def measure(name: str, path: Path) -> dict:
    out_dir = DATA / f"out-{name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--child", name, str(path), str(out_dir)]
    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    size_mb = path.stat().st_size / 1e6
    result["rows_per_s"] = result["rows"] / result["seconds"]
    result["mb_per_s"] = size_mb / result["seconds"]
    return result


def report(label: str, name: str, r: dict) -> None:
    print(
        f"{label:<22} {name:<9} {r['seconds']:8.2f} s {r['rows_per_s']:12,.0f} rows/s "
        f"{r['mb_per_s']:8.1f} MB/s  peak RSS {r['peak_rss_mb']:7.1f} MB  "
        f"valid {r['valid']:,} rejected {r['rejected']:,}"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--big-mb", type=int, default=1024)
    p.add_argument("--skip-big", action="store_true")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--child", nargs=3, metavar=("RUNNER", "PATH", "OUT"))
    args = p.parse_args()
    if args.child:
        child(*args.child)
        return

    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    small = ensure_file(DATA / f"rows-{args.rows}.csv", args.rows)
    print(
        f"file: {small.name} {small.stat().st_size / 1e6:.1f} MB, {args.rows:,} rows, 7 columns, ~2 % messy"
    )
    results = {"etl_core": measure("etl_core", small)}
    report(f"{args.rows:,} rows", "etl_core", results["etl_core"])
    for name in ("naive", "duckdb"):
        if name == "naive" and args.skip_naive:
            continue
        results[name] = measure(name, small)
        report(f"{args.rows:,} rows", name, results[name])
    ours = results["etl_core"]["seconds"]
    if "naive" in results:
        print(
            f"speed-up over the straightforward version: "
            f"{results['naive']['seconds'] / ours:.1f}x (target >= 6x)"
        )
    print(f"time relative to DuckDB: {ours / results['duckdb']['seconds']:.2f}x (target <= 3x)")

    if not args.skip_big:
        rows_big = int(args.big_mb * 1e6 / (small.stat().st_size / args.rows))
        big = ensure_file(DATA / f"big-{args.big_mb}mb.csv", rows_big)
        r = measure("etl_core", big)
        report(f"{big.stat().st_size / 1e9:.2f} GB", "etl_core", r)
        print(f"peak RSS on the big file: {r['peak_rss_mb']:.1f} MB (target <= 64 MB)")


if __name__ == "__main__":
    main()
