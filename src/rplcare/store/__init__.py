"""The care record: cases and every version of them, assessments, overrides, users, audit.

SQLAlchemy and Alembic are imported by the submodules only (`db`, `models`, `repository`), so
`import rplcare.store` stays cheap for the CLI.
"""
