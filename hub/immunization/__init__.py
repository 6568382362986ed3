"""Immunization (预防接种): the national schedule as data, evaluation and forecast, due lists."""
