"""Power Balance ETL: ``python -m etl build`` turns raw public files into the DuckDB database."""

import powerbalance  # noqa: F401 - its pandas setting (text held as Python strings) holds in the build too
