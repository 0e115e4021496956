#!/usr/bin/env python
"""Entry point for `spark-submit`: screen a Bulk export on the cluster spark-submit names.

    spark-submit --master spark://HOST:7077 scripts/spark_screen.py EXPORT_DIR OUT.parquet \
        [--today YYYY-MM-DD] [--only-candidates]

The cluster's Python must have rplcare installed (the wheel, docs/deployment.md).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from rplcare.screening.commands import summary_text
from rplcare.screening.spark import screen_spark


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+")
    ap.add_argument("out")
    ap.add_argument("--today", type=date.fromisoformat, default=None)
    ap.add_argument("--only-candidates", action="store_true")
    a = ap.parse_args(argv)
    s = screen_spark(
        [Path(p) for p in a.paths],
        Path(a.out),
        a.today or date.today(),
        master=None,
        only_candidates=a.only_candidates,
        on_bad=lambda b: print(f"bad line skipped: {b}", file=sys.stderr),
    )
    print("\n".join(summary_text(s)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
