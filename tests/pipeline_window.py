"""The slice of simulated time the session's pipeline fixtures load."""

from datetime import date, timedelta

END = date(2026, 6, 30)
WINDOW_START = END - timedelta(days=13)
