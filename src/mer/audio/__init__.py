"""Audio in: decoding (soundfile, PyAV), signal checks, signal-quality facts, augmentation transforms, MIDI rendering and the synthetic generator.
"""
