"""Deterministic synthetic demo data: people, districts, institutions, teams, households.

Nothing here is real personal data. ID numbers are valid GB 11643 numbers built from
real GB/T 2260 region codes so the matching and validation code sees realistic input.
"""
