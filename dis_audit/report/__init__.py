"""Reports of a scan or a manifest: one ``ReportModel`` (model.py) shown as terminal text, JSON or an HTML page."""
