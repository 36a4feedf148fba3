"""Revision cycles: the three-year rule, due dates, reviews without change, reminders.

`rules` is pure date arithmetic; `report` reads the SQL cache; `review`, `remind` and `export`
are the actions built on them. Nothing here imports Flask.
"""
