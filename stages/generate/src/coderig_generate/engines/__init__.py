"""Inference engines behind one small protocol; each heavy backend is imported only when chosen."""
