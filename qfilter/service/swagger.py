"""``/docs`` without the internet for the reference service: :mod:`qfilter.integrations.swagger`'s helper.

The helper lives in the integrations layer, so that any FastAPI app can use
it (:func:`qfilter.integrations.fastapi.install_docs`); these names stay here
for code that imported them from the service.
"""

from qfilter.integrations.swagger import ASSETS, ASSETS_PATH, SWAGGER_UI_DIRECTORY, install_docs

__all__ = ["ASSETS_PATH", "ASSETS", "SWAGGER_UI_DIRECTORY", "install_docs"]
