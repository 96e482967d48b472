"""The Incidents section: the lazy list with its filters, the editor, evidence and the PDF report.

Everything here reads and writes through the store on workers (``desktop.ui.jobs``).
"""
