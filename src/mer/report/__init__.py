"""Figures a person would rather look at than read (matplotlib, written atomically).
"""
