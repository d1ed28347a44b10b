"""The edges: the `mer` command line and the renderers of results (table, JSON, CSV) that every app shares.
"""
