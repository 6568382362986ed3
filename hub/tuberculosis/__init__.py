"""Tuberculosis patients referred to primary care (肺结核患者健康管理): episodes from the
infectious-disease reporting system, the 72-hour first visit, closing."""
