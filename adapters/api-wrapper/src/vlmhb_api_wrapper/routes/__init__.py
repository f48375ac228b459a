"""The HTTP routes, one router per area; ``create_app`` includes them in this order.

Handlers are explained by comments, not docstrings: FastAPI would publish a docstring as the
endpoint's description in ``/openapi.json``, which stays as it was.
"""

from vlmhb_api_wrapper.routes.chat import router as chat_router
from vlmhb_api_wrapper.routes.health import router as health_router
from vlmhb_api_wrapper.routes.metrics import router as metrics_router
from vlmhb_api_wrapper.routes.models import router as models_router

#: In the order the endpoints were always declared (it is the order of ``/openapi.json``).
ROUTERS = (health_router, models_router, metrics_router, chat_router)

__all__ = ["ROUTERS", "chat_router", "health_router", "metrics_router", "models_router"]
