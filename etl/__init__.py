"""Power Balance ETL: ``python -m etl build`` turns raw public files into the DuckDB database."""
