"""The core language: text to a bound :class:`~qfilter.core.plan.Plan`.

The stages, in pipeline order: :mod:`~qfilter.core.parser` (text to
:mod:`~qfilter.core.ast`, with :mod:`~qfilter.core.errors`), then
:mod:`~qfilter.core.plan` (schema from :mod:`~qfilter.core.schema`, users,
:mod:`~qfilter.core.times`, grouping), and :mod:`~qfilter.core.backend`, the
one seam every compiler plugs into. Nothing here imports a compiler or an
integration.
"""
