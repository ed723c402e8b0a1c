"""Engines other than the DuckDB loader that run a load run: each takes the plan
(plan.py), maps the same measuring code (measuring.py) over the files, and
writes the same raw tables into its own warehouse. pyspark is imported lazily,
so the command line works without the ``spark`` extra."""
