"""Run every benchmark in bench/ (files named *_bench.py), passing --quick through.

Each benchmark prints its own ratios against the physical limit it measures in the same run; this
runner only makes sure none of them rots: it fails if any benchmark fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke mode: small sizes, one repetition")
    args = parser.parse_args()
    benches = sorted(BENCH_DIR.glob("*_bench.py"))
    if not benches:
        print("bench: no benchmarks in bench/ yet")
        return 0
    failed: list[str] = []
    for bench in benches:
        print(f"--- {bench.name}", flush=True)
        command = [sys.executable, str(bench), *(["--quick"] if args.quick else [])]
        if subprocess.run(command, cwd=BENCH_DIR.parent, check=False).returncode != 0:
            failed.append(bench.name)
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}")
        return 1
    print(f"bench: {len(benches)} benchmark(s) ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
