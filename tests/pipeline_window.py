"""The slice of simulated time the session's pipeline fixtures load."""

from datetime import date, timedelta

END = date(2026, 6, 30)
WINDOW_START = END - timedelta(days=13)
# Runs are checked through their results; the console gets only warnings.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
