"""Sweep speed: the SMA crossover's 4×4 grid on 1M one-minute bars, on this machine's process
pool and on a local Dask cluster with as many worker processes, the bars sent to each worker once.

The cluster is started as the README advises for backtests: without the ``MALLOC_TRIM_THRESHOLD_``
Dask's nannies set in their workers by default (it turns every large array into a fresh ``mmap``,
about 30% more CPU per backtest; ``--dask-defaults`` keeps it), and with quantnb imported in the
workers before the clock starts, as on a cluster that outlives one sweep.

Prints figures only; nothing here asserts. Run: ``python bench/sweep_speed.py [--bars N]
[--per-task]``; ``--per-task`` adds Dask with the bars in every task (how sweeps sent them before
they were scattered once), for comparison.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import time
import warnings

import pandas as pd

import quantnb as qn
from quantnb.engine.progress import progress_bar
from quantnb.engine.sweep import make_grid, run_stats, stats_table
from quantnb.strategies import SmaCross

GRID = {"fast": [5, 10, 20, 40], "slow": [50, 100, 200, 400]}
KW = {"cash": 10_000_000.0}


def timed(label: str, run) -> tuple[float, pd.DataFrame]:
    t0 = time.perf_counter()
    table = run()
    secs = time.perf_counter() - t0
    print(f"{label:<52} {secs:7.1f} s", flush=True)
    return secs, table


def per_task(client, data) -> pd.DataFrame:
    """Every task carries the bars: what a Dask client got before the scatter."""
    combos = make_grid(SmaCross, GRID)
    futures = [client.submit(run_stats, data, SmaCross, p, KW, pure=False) for p in combos]
    bar = progress_bar(len(combos), "per task", False)
    rows = [f.result() for f in futures]
    bar.close()
    return stats_table(rows, combos, "Sharpe ratio")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--per-task", action="store_true", help="also time bars sent with each task")
    ap.add_argument("--dask-defaults", action="store_true", help="keep the nannies' malloc setting")
    args = ap.parse_args()
    import dask
    from distributed import Client, LocalCluster

    workers = os.cpu_count() or 1
    data = qn.data.sample(["SPY"], interval="1m", start="2010-01-04", bars=args.bars)
    mb = sum(df.memory_usage().sum() for df in data.values()) / 1e6
    n = len(make_grid(SmaCross, GRID))
    print(f"{n} runs of the SMA crossover on {args.bars:,} bars ({mb:.0f} MB), {workers} workers")
    pool_s, pool = timed(
        "process pool (executor=None)",
        lambda: qn.sweep(SmaCross, data, GRID, progress=False, **KW),
    )
    t0 = time.perf_counter()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with (
        dask.config.set({} if args.dask_defaults else {key: None}),
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(importlib.import_module, "quantnb.engine.sweep")
        start_s = time.perf_counter() - t0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dask_s, on_dask = timed(
                "local Dask cluster (executor=client)",
                lambda: qn.sweep(SmaCross, data, GRID, executor=client, progress=False, **KW),
            )
        large = sum("large graph" in str(w.message) for w in caught)
        if args.per_task:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                naive_s, _ = timed(
                    "local Dask cluster, bars in every task", lambda: per_task(client, data)
                )
    pd.testing.assert_frame_equal(pool, on_dask)
    print(f"{'  (cluster start-up and imports, not counted)':<52} {start_s:7.1f} s")
    print(
        f"Dask / process pool: {dask_s / pool_s:.2f} (target <= 1.00); the same table; "
        f"'Sending large graph' warnings: {large}"
    )
    if args.per_task:
        print(f"bars in every task / scattered once: {naive_s / dask_s:.2f}")


if __name__ == "__main__":
    main()
