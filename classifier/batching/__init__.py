"""Batching: the worker that serves many callers with one model, its schedule, one image batch on the
model thread, and the observer it reports to."""
