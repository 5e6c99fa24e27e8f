"""Power Balance: read-only queries, index maths and charts for the provider → enabler dashboard.

Importing this package never touches Streamlit; pages call these functions.

It does set one pandas option, for every process that imports it (the server, its pages, the ETL
and the tests alike, so all compute the same way): text columns (pandas 3's ``str`` dtype) are held
as Python strings rather than in Arrow. The frames here are small — one council's rows, a level's
few hundred councils — and on small frames pandas converted Arrow strings back to Python objects
for every index, merge and look-up: a council's profile took 78 ms of CPU with Arrow strings and
66 ms without; the ETL build's CPU is unchanged within noise (docs/operations.md). Values, missing
values (NaN) and dtypes (``str``) are the same either way.
"""

import pandas as _pd

_pd.set_option("mode.string_storage", "python")

__version__ = "0.1.0"
