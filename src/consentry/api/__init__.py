"""The HTTP service: consent for people, snapshots and metering for licensees, admin for operators.

A thin layer over the library (docs/concepts.md): ``app.create_app`` builds the FastAPI application
from a ``settings.ServiceSettings``; ``consentry serve`` runs it under uvicorn.
"""
