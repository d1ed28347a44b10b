"""What a user runs: train (CV, then the final fit), predict (files in, predictions with flags out), leakage-free augmentation in training.
"""
