"""Renderers of a ScanResult: terminal (rich) and JSON."""
