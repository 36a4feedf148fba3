"""Standards that measure: 质控指标 declared in a 标准's indicator tables, measured results per
period, statuses (达标 / 未达标 / 预警 / 未填报), roll-ups, imports, trends and reminders.

`declaration` and `periods` are pure content rules (the SQL cache uses them at sync); the other
modules are domain services over the database.
"""
