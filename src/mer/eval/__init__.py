"""Honest evaluation: grouped splits checked on every fold, transparent metrics, cross-validation and paired statistics.
"""
