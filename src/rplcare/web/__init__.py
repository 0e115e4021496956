"""The clinician web app (FastAPI + Jinja2 + htmx); see `rplcare.web.app.create_app`."""
