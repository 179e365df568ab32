"""Dates as the pages write them (2026-11-30 20:24), also where Django
formats a date itself: the admin's lists and records, and any template that
prints a datetime without the date filter. Selected by FORMAT_MODULE_PATH."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "m-d"
YEAR_MONTH_FORMAT = "Y-m"
