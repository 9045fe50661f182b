"""The service's HTTP layer: the ASGI app, routes, the OpenAPI document and metrics."""
