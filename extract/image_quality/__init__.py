"""image-quality: find blurry and moire images; an incremental loader into DuckDB plus dbt scoring."""

__version__ = "0.1.0"
