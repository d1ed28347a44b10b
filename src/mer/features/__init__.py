"""What is computed from a signal: the paper's 204 rows (reference and fused), modelling transforms, emotion descriptors, musicnn embeddings, input blocks.
"""
