"""English date formats with the time zone after every time (Django's own omit it), so a time
in the admin's change lists and audit log says which zone it is in ("Dec. 1, 2026, 9:46 a.m.
UTC"). Only the formats that show a time are set; the rest stay Django's."""

DATETIME_FORMAT = "N j, Y, P T"
TIME_FORMAT = "P T"
SHORT_DATETIME_FORMAT = "m/d/Y P T"
