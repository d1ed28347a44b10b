"""Estimators and their files: recurrent networks, the paper's baselines, the descriptor + embedding recipe, and the `.mer` format (never unpickled).
"""
