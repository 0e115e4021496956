"""The Apache Spark screening engine: plain PySpark (no extra JARs), `local[N]` or a cluster.

    NDJSON lines (textFile, .gz read natively)
      -> parse + key by patient (mapPartitions, orjson)               bad lines -> driver
         and the relevance filter (types the mapping does not read dropped before the shuffle)
      -> views rows (the SQL-on-FHIR ViewDefinitions, run per resource) -> Spark SQL
         CANDIDATES_SQL joined with the code list                       -> candidate patients
      -> group by patient (groupByKey), Patient first, read order
      -> screen_patient (the local engine's function) per patient     -> rows
      -> Parquet written by Spark (a folder of part files), or .csv / .ndjson through the driver

The pre-filter here is the ViewDefinitions themselves (not the local engine's per-resource
test), so the identity test of the two engines also checks the views against that test.
The Python workers must import rplcare: on a cluster install the wheel on every node or pass
it with `--py-files` (docs/deployment.md); locally the package's folder is put on the
workers' PYTHONPATH.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from rplcare.interop.fhir.bulk import BadLine, attach_medications, find_files
from rplcare.screening.output import Summary, write_rows

__all__ = ["row_schema", "screen_spark", "spark_session"]


def spark_session(master: str | None, app_name: str = "rplcare-screen") -> Any:
    """A SparkSession on `master` whose Python workers run this interpreter and see rplcare.

    `master=None` keeps the master spark-submit gave (a cluster run)."""
    import rplcare

    pkg_root = str(Path(rplcare.__file__).resolve().parents[1])
    paths = [pkg_root, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    cores = 2
    if master and master.startswith("local[") and master[6:-1].isdigit():
        cores = int(master[6:-1])
    builder = SparkSession.builder if master is None else SparkSession.builder.master(master)
    session = (
        builder.appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
        .config("spark.default.parallelism", str(max(2, 2 * cores)))
        .config("spark.driver.memory", "1g")
        .config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def row_schema() -> Any:
    from pyspark.sql.types import (
        ArrayType,
        BooleanType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    gap = StructType([StructField("id", StringType()), StructField("urgency", StringType())])
    s, b, n = StringType(), BooleanType(), LongType()
    return StructType(
        [
            StructField("patient_id", s, False),
            StructField("candidate", b),
            StructField("screened", b),
            StructField("definition", s),
            StructField("rpl", b),
            StructField("losses_counted", n),
            StructField("care_tier", n),
            StructField("loss_type", s),
            StructField("pregnant", b),
            StructField("gaps", ArrayType(gap)),
            StructField("advised_against", ArrayType(s)),
            StructField("not_read", ArrayType(s)),
            StructField("not_read_count", n),
            StructField("error", s),
            StructField("assessed_on", s),
            StructField("kb_version", s),
        ]
    )


# -- functions shipped to the workers (module level, so they pickle by reference) ----------

BAD = "\x00bad"
SHARED = "\x00medication"


def _parse_partition(
    items: Iterator[tuple[tuple[int, str], int, str]], relevance: bool = True
) -> Iterator[tuple]:
    """(file index, file), line number, text -> (key, (order, line, type)) or a bad line.

    With `relevance`, a resource of a type the mapping does not read (`screening.relevance`,
    the local engine's filter) is dropped here, before the shuffle: one marker
    (key, (order, None, type)) per run of a patient's dropped lines keeps her a group."""
    import orjson

    from rplcare.interop.fhir.bulk import patient_key
    from rplcare.screening.relevance import is_relevant

    last_dropped: str | None = None
    for (fidx, fname), lineno, text in items:
        if not text.strip():
            continue
        try:
            res = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield BAD, (fname, lineno, f"not valid JSON: {exc}")
            continue
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            what = "a JSON object" if isinstance(res, dict) else type(res).__name__
            yield BAD, (fname, lineno, f"not a FHIR resource ({what} without resourceType)")
            continue
        rtype = res["resourceType"]
        key = patient_key(res)
        if key is None:
            if rtype == "Medication" and isinstance(res.get("id"), str):
                yield SHARED, (res["id"], text)
            continue
        order = (0 if rtype == "Patient" else 1, fidx, lineno)
        if relevance and rtype != "Patient" and not is_relevant(res):
            if key != last_dropped:
                yield key, (order, None, rtype)
            last_dropped = key
            continue
        yield key, (order, text, rtype)


def _view_rows(items: Iterator[tuple[str, tuple]]) -> Iterator[tuple[str | None, str, str]]:
    """The rows of the candidate ViewDefinitions for each resource of the types they read."""
    import orjson

    from rplcare.screening.candidates import CANDIDATE_TYPES, load_view
    from rplcare.screening.viewdef import run_view

    views = {t: load_view(name) for t, name in CANDIDATE_TYPES.items()}
    for _key, (_order, text, rtype) in items:
        view = views.get(rtype)
        if view is None or text is None:
            continue
        for row in run_view(view, [orjson.loads(text)]):
            if row["system"] is not None and row["code"] is not None:
                yield row["patient"], str(row["system"]), str(row["code"])


def _code_candidates(items: Iterator[tuple[str, tuple]]) -> Iterator[str]:
    """The patients with a candidate code, by the local engine's per-resource test."""
    import orjson

    from rplcare.screening.candidates import CANDIDATE_TYPES, is_candidate_resource

    for key, (_order, text, rtype) in items:
        if (
            text is not None
            and rtype in CANDIDATE_TYPES
            and is_candidate_resource(orjson.loads(text))
        ):
            yield key


def _screen_group(
    kv: tuple[str, Any], candidates: Any, medications: Any, today: date
) -> dict[str, Any]:
    from rplcare.screening.patient import non_candidate_row, screen_patient

    key, values = kv
    if key not in candidates.value:
        return non_candidate_row(key, today)
    ordered = sorted(values, key=lambda v: v[0])
    lines = [v[1].encode() for v in ordered if v[1] is not None]
    meds = medications.value
    if meds:
        lines = attach_medications(lines, {k: v.encode() for k, v in meds.items()})
    return screen_patient(key, lines, today, marked=True)


# ------------------------------------------------------------------------------------------


def screen_spark(
    paths: list[Path],
    out: Path,
    today: date,
    *,
    master: str | None = "local[2]",
    only_candidates: bool = False,
    on_bad: Callable[[BadLine], None] | None = None,
    spark: Any = None,
    relevance: bool = True,
    prefilter: str = "views",
) -> Summary:
    """Screen a Bulk export with Spark; rows as the local engine gives them (any order).

    `relevance=False` keeps every resource through the shuffle (same rows, more data).
    `prefilter="codes"` selects the candidates with the local engine's per-resource code test
    instead of the ViewDefinitions through fhirpathpy (≈ 1 ms a resource); the same patients
    (tests/screening/test_candidates.py, test_spark.py)."""
    from pyspark import StorageLevel

    from rplcare.screening.candidates import CANDIDATES_SQL, code_list

    own = spark is None
    spark = spark or spark_session(master)
    sc = spark.sparkContext
    parts = max(2, sc.defaultParallelism)
    try:
        files = find_files(paths)
        texts = [
            sc.textFile(str(f))
            .zipWithIndex()
            .map(lambda t, i=i, f=str(f): ((i, f), t[1] + 1, t[0]))
            for i, f in enumerate(files)
        ]
        lines = sc.union(texts).coalesce(parts) if texts else sc.emptyRDD()
        parsed = lines.mapPartitions(lambda it, r=relevance: _parse_partition(it, r)).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        bad = parsed.filter(lambda kv: kv[0] == BAD).values()
        summary = Summary(bad_lines=bad.count())
        if on_bad is not None:
            for fname, lineno, why in bad.sortBy(lambda b: (b[0], b[1])).take(1000):
                on_bad(BadLine(fname, lineno, why))
        meds = dict(parsed.filter(lambda kv: kv[0] == SHARED).values().collect())
        by_patient = parsed.filter(lambda kv: kv[0] not in (BAD, SHARED))

        if prefilter == "codes":
            candidates = set(by_patient.mapPartitions(_code_candidates).distinct().collect())
        else:
            # the pre-filter: ViewDefinition rows -> Spark SQL
            codes = by_patient.mapPartitions(_view_rows)
            spark.createDataFrame(
                codes, "patient string, system string, code string"
            ).createOrReplaceTempView("codes")
            spark.createDataFrame(
                code_list().rows(), "system string, code string, prefix boolean"
            ).createOrReplaceTempView("candidate_codes")
            candidates = {r[0] for r in spark.sql(CANDIDATES_SQL).collect()}
        cand_b = sc.broadcast(candidates)
        meds_b = sc.broadcast(meds)

        rows = (
            by_patient.groupByKey(numPartitions=parts)
            .map(lambda kv: _screen_group(kv, cand_b, meds_b, today))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        summary.patients_read = rows.count()
        parsed.unpersist()
        summary.candidates = len(candidates)
        if only_candidates:
            rows = rows.filter(lambda r: r["candidate"])
        if out.suffix.lower() == ".parquet":
            df = spark.createDataFrame(rows.map(_to_row), schema=row_schema())
            df.write.mode("overwrite").parquet(str(out))
            part = rows.mapPartitions(_summarise).reduce(_merge)
            _merge(summary, part)
        else:
            write_rows(rows.toLocalIterator(), out, summary)
        rows.unpersist()
        return summary
    finally:
        if own:
            spark.stop()


def _summarise(rows: Iterator[dict[str, Any]]) -> Iterator[Summary]:
    s = Summary()
    for r in rows:
        s.add(r)
    yield s


def _merge(a: Summary, b: Summary) -> Summary:
    """Add b's row counts to a (the counts Summary.add keeps)."""
    a.rows_written += b.rows_written
    a.screened += b.screened
    a.not_screened += b.not_screened
    a.rpl += b.rpl
    a.pregnant += b.pregnant
    a.gaps.update(b.gaps)
    a.advised_against.update(b.advised_against)
    return a


def _to_row(d: dict[str, Any]) -> tuple:
    from rplcare.screening.patient import ROW_FIELDS

    return tuple(
        [(g["id"], g["urgency"]) for g in d["gaps"]] if k == "gaps" else d[k] for k in ROW_FIELDS
    )
