"""Benchmarks: `make bench` runs each bench_<topic>.run() and writes docs/benchmarks.md."""
