"""Datasets: frozen versions, train/test splits and slices, exports, formats, archives, imports."""
