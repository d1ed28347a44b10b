"""Datasets: clips with labels and groups, the layouts `mer` reads (4Q, label folders, CSV manifests, EMOPIA, the synthetic set).
"""
