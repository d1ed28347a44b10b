"""Features of many files: cached by content, in worker processes or on a Dask cluster, failures per file; feature stores, augmented copies, clip inputs.
"""
