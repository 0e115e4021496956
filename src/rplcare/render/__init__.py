"""Renderers: terminal text, clinician report (HTML/PDF), patient handout, hCG chart, iCalendar."""
