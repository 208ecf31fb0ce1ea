"""The ASGI entry point: `uvicorn serving_api.main:app`."""

from serving_api.app import create_app

app = create_app()
