"""The ground floor: errors, atomic writes, progress bars, labels, the feature cache, worker pools and thread control.

Nothing here imports another layer of `mer`; everything above may import it.
"""
