"""Studies over the workflows: the paper's experiment grid with paired tests, and the demo on the embedded synthetic set.
"""
