"""Outcomes registry: a clinic's success rates from its own records, with their uncertainty.

`facts` derives one row per episode, per subsequent pregnancy and per cause / treatment from
the case versions (written whenever a version is stored); `registry` computes the figures as
SQL aggregates over those rows; `stats` holds the intervals and tests; `plots` and `fhir` are
faces. Definitions: docs/outcomes.md.
"""
