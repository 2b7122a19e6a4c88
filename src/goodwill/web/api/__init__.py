"""The JSON API, mounted under ``/api/v1``; ``routes.api_router`` gathers every capability's router.

This package's own import stays light: the capabilities' API modules import ``schemas`` and the
like from it, and would otherwise start importing one another from wherever the first import came.
"""

API_PREFIX = "/api/v1"
