"""Benchmarks of openstage (not tests): `python -m bench`. See bench/README.md."""
