"""Analyses that run the engine many times: fitting observed counts, forecasting."""
