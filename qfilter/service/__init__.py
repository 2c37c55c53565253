"""The reference service: Waylay query search and Timeplus saved queries over SQL tables.

An application of the library, not part of it: :mod:`~qfilter.service.app`
assembles the FastAPI app from one router per resource
(:mod:`~qfilter.service.waylay`, :mod:`~qfilter.service.saved_queries`),
:mod:`~qfilter.service.tables` holds their tables and SQL mappings and
:mod:`~qfilter.service.demo` the bundled demo dataset. Importing this package
loads nothing; ``qfilter serve`` runs it.
"""
