"""Prognosis for the next pregnancy (counselling aids with their caveats)."""
