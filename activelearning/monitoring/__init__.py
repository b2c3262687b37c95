"""Monitoring: confidence drift per camera and its alerts."""
